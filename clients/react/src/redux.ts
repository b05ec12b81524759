// A Redux middleware (no Redux dependency: it follows the `store => next => action` contract, so it works with Redux,
// Redux Toolkit or any store built the same way). The client's events become actions; a few actions become client
// calls. Publications are dispatched one action each, as they arrive — a reducer sees every one, in order.

import type {
  ConnectionState,
  Publication,
  PublishOptions,
  PublishResult,
  ResetEvent,
  Subscription,
  SwitchboardClientLike,
} from '@switchboard/client';

export interface Action {
  type: string;
  [key: string]: unknown;
}

export interface MiddlewareStore {
  dispatch(action: Action): unknown;
  getState(): unknown;
}

export interface SwitchboardMiddlewareOptions {
  client: SwitchboardClientLike;
  /** Prefix of every action type (default `switchboard`). */
  prefix?: string;
  /** Channels to subscribe to as soon as the middleware is applied. */
  channels?: string[];
  /** Maps app actions to publishes: return `{channel, data}` to publish, or null. The action still reaches reducers. */
  publishes?: (action: Action) => { channel: string; data: unknown; options?: PublishOptions } | null;
}

/** Action types for a prefix: the ones the middleware dispatches and the ones it handles. */
export function switchboardActionTypes(prefix = 'switchboard') {
  return {
    // dispatched by the middleware
    state: `${prefix}/state`,
    publication: `${prefix}/publication`,
    reset: `${prefix}/reset`,
    published: `${prefix}/published`,
    publishFailed: `${prefix}/publishFailed`,
    // handled by the middleware (and passed on to reducers)
    subscribe: `${prefix}/subscribe`,
    unsubscribe: `${prefix}/unsubscribe`,
    publish: `${prefix}/publish`,
  } as const;
}

export type StateAction = { type: string; state: ConnectionState };
export type PublicationAction = { type: string; publication: Publication };
export type ResetAction = { type: string; reset: ResetEvent };
export type PublishedAction = { type: string; request: PublishRequest; result: PublishResult };
export type PublishFailedAction = { type: string; request: PublishRequest; error: unknown };

export interface PublishRequest {
  channel: string;
  data: unknown;
  options?: PublishOptions;
  /** Yours to correlate the outcome with (e.g. an optimistic message's local id). */
  requestId?: string;
}

/** Action creators for the actions the middleware handles. */
export function switchboardActions(prefix = 'switchboard') {
  const types = switchboardActionTypes(prefix);
  return {
    subscribe: (channel: string): Action => ({ type: types.subscribe, channel }),
    unsubscribe: (channel: string): Action => ({ type: types.unsubscribe, channel }),
    publish: (request: PublishRequest): Action => ({ type: types.publish, request }),
  };
}

export type SwitchboardMiddleware = ((store: MiddlewareStore) => (next: (action: Action) => unknown) => (action: Action) => unknown) & {
  /** Unsubscribes and stops listening to the client (the client itself stays open: it is the app's). */
  detach(): void;
};

export function switchboardMiddleware(options: SwitchboardMiddlewareOptions): SwitchboardMiddleware {
  const { client } = options;
  const types = switchboardActionTypes(options.prefix);
  const subscriptions = new Map<string, Subscription>();
  const cleanups: Array<() => void> = [];

  const middleware = ((store: MiddlewareStore) => {
    const dispatch = (action: Action) => store.dispatch(action);
    const subscribe = (channel: string) => {
      if (subscriptions.has(channel)) return;
      subscriptions.set(
        channel,
        client.subscribe(channel, {
          onPublication: (publication) => dispatch({ type: types.publication, publication }),
          onReset: (reset) => dispatch({ type: types.reset, reset }),
        }),
      );
    };
    const publish = (request: PublishRequest) => {
      client.publish(request.channel, request.data, request.options).then(
        (result) => dispatch({ type: types.published, request, result }),
        (error: unknown) => dispatch({ type: types.publishFailed, request, error }),
      );
    };
    cleanups.push(client.on('state', (state) => dispatch({ type: types.state, state })));
    for (const channel of options.channels ?? []) subscribe(channel);

    return (next: (action: Action) => unknown) => (action: Action) => {
      // Reducers see the action first (an optimistic message appears before the publish is even sent).
      const result = next(action);
      if (action.type === types.subscribe) subscribe(String(action.channel));
      else if (action.type === types.unsubscribe) {
        subscriptions.get(String(action.channel))?.unsubscribe();
        subscriptions.delete(String(action.channel));
      } else if (action.type === types.publish) publish(action.request as PublishRequest);
      else {
        const mapped = options.publishes?.(action);
        if (mapped) publish(mapped);
      }
      return result;
    };
  }) as SwitchboardMiddleware;

  middleware.detach = () => {
    for (const cleanup of cleanups.splice(0)) cleanup();
    for (const subscription of subscriptions.values()) subscription.unsubscribe();
    subscriptions.clear();
  };
  return middleware;
}

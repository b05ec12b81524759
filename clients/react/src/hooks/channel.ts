import { useSyncExternalStore } from 'react';
import type {
  Publication,
  ResetEvent,
  StreamPosition,
  Subscription,
  SubscriptionState,
  SwitchboardClientLike,
  SwitchboardError,
} from '@switchboard/client';
import { useSwitchboardContext } from '../context.js';
import type { FrameBatcher } from '../frames.js';
import { FrameBatchedStore } from '../store.js';
import { useStoreFor } from './connection.js';

/**
 * How many publications `useChannel` (and messages `useWebSocket` / `useEventSource`) keep when no `limit` is given: the
 * newest 1000. A hook left mounted on a busy channel must not grow without bound; `limit: Infinity` keeps every one.
 */
export const DEFAULT_MESSAGE_LIMIT = 1000;

/** `Data`: the type of the channel's publications' `data`; `State`: the reducer's state. */
export interface UseChannelOptions<Data = unknown, State = undefined> {
  /** Keep only the newest `limit` publications (default `DEFAULT_MESSAGE_LIMIT`, 1000; `Infinity`: all). Ignored with `reducer`. */
  limit?: number;
  /** Fold publications into a state instead of keeping them (pure: it may run before React renders). */
  reducer?: (state: State, publication: Publication<Data>) => State;
  initialState?: State;
  /** On a reset, drop what was kept (publications, or back to `initialState`). Default: keep it. */
  clearOnReset?: boolean;
  /** Every publication, as it arrives (not batched); for side effects, not for rendering. */
  onPublication?: (publication: Publication<Data>) => void;
  /** Missed publications could not be recovered: reload the state by other means (client docs, `onReset`). */
  onReset?: (reset: ResetEvent) => void;
  /** Resume after a position the app already has; a subscription token; a server-side rate cap. */
  since?: StreamPosition | null;
  token?: string | null;
  maxRate?: number;
  /** `false`: do not subscribe (yet). */
  enabled?: boolean;
}

export interface ChannelSnapshot<Data = unknown, State = undefined> {
  /** The newest `limit` publications received since mount (default 1000), oldest first. Empty with `reducer`. */
  publications: readonly Publication<Data>[];
  /** The reducer's state (`initialState` until the first publication); undefined without `reducer`. */
  state: State;
  status: SubscriptionState | 'idle';
  /** The last reset (null if none) and how many there were since mount. */
  reset: ResetEvent | null;
  resets: number;
  /** The server's refusal of the subscription, if it refused. */
  error: SwitchboardError | null;
  position: StreamPosition | null;
}

class ChannelStore<Data, State> extends FrameBatchedStore<ChannelSnapshot<Data, State>> {
  /** The latest options from render: callbacks and the reducer are read from here when events arrive. */
  options: UseChannelOptions<Data, State>;
  private subscription: Subscription | null = null;
  private incoming: Publication<Data>[] = [];
  private state: State;
  private status: ChannelSnapshot<Data, State>['status'] = 'idle';
  private reset: ResetEvent | null = null;
  private resets = 0;
  private error: SwitchboardError | null = null;
  private clearBeforeIncoming = false;

  constructor(
    private readonly client: SwitchboardClientLike,
    private readonly channel: string,
    options: UseChannelOptions<Data, State>,
    batcher: FrameBatcher,
  ) {
    super(
      { publications: [], state: options.initialState as State, status: 'idle', reset: null, resets: 0, error: null, position: null },
      batcher,
    );
    this.options = options;
    this.state = options.initialState as State;
  }

  protected attach(): void {
    if (this.options.enabled === false) return;
    const { since, token, maxRate } = this.options;
    this.subscription = this.client.subscribe<Data>(this.channel, {
      ...(since !== undefined ? { since } : {}),
      ...(token !== undefined ? { token } : {}),
      ...(maxRate !== undefined ? { maxRate } : {}),
      onPublication: (publication) => {
        const { reducer } = this.options;
        if (reducer) this.state = reducer(this.state, publication);
        else this.incoming.push(publication);
        this.options.onPublication?.(publication);
        this.changed();
      },
      onState: (status) => {
        this.status = status;
        this.changed();
      },
      onReset: (reset) => {
        this.reset = reset;
        this.resets++;
        if (this.options.clearOnReset) {
          this.clearBeforeIncoming = true;
          this.incoming = [];
          this.state = this.options.initialState as State;
        }
        this.options.onReset?.(reset);
        this.changed();
      },
      onError: (error) => {
        this.error = error;
        this.changed();
      },
    });
    this.status = this.subscription.state;
    this.changed();
  }

  protected detach(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
  }

  protected nextSnapshot(current: ChannelSnapshot<Data, State>): ChannelSnapshot<Data, State> {
    let publications = this.clearBeforeIncoming ? [] : current.publications;
    this.clearBeforeIncoming = false;
    if (this.incoming.length > 0) {
      // A new array per frame (not per publication): React compares snapshots by identity.
      publications = publications.concat(this.incoming);
      this.incoming = [];
      const limit = this.options.limit ?? DEFAULT_MESSAGE_LIMIT;
      if (publications.length > limit) publications = publications.slice(publications.length - limit);
    }
    const position = this.subscription?.position ?? current.position;
    const next = { publications, state: this.state, status: this.status, reset: this.reset, resets: this.resets, error: this.error, position };
    const same = (Object.keys(next) as Array<keyof typeof next>).every((key) => Object.is(next[key], current[key]));
    return same ? current : next;
  }
}

/**
 * Subscribes to `channel` while the component is mounted and renders its publications — every one, in order, at
 * most once per animation frame however fast they arrive (the newest `limit` are kept, default 1000).
 * `useChannel<Message>('chat:lobby')` types `publications` as `Publication<Message>[]`.
 */
export function useChannel<Data = unknown, State = undefined>(
  channel: string,
  options: UseChannelOptions<Data, State> = {},
): ChannelSnapshot<Data, State> {
  const { client, batcher } = useSwitchboardContext();
  const since = options.since ? `${options.since.epoch}:${options.since.offset}` : null;
  const store = useStoreFor(
    [client, batcher, channel, since, options.token, options.maxRate, options.limit, options.reducer !== undefined, options.enabled],
    () => new ChannelStore<Data, State>(client, channel, options, batcher),
  );
  store.options = options;
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}

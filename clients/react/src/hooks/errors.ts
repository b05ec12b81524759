// Errors a component can show: the connection's (like Ably's `connectionError`) and one channel's (`channelError`).
// Without this hook they only reach `client.on('error')` and the subscription's `onError`, which React never sees.

import { useSyncExternalStore } from 'react';
import type { ConnectionState, Subscription, SwitchboardClientLike, SwitchboardError } from '@switchboard/client';
import { useSwitchboardContext } from '../context.js';
import type { FrameBatcher } from '../frames.js';
import { FrameBatchedStore } from '../store.js';
import { useStoreFor } from './connection.js';

/** Why the client is not connected: it is retrying (`reconnecting`) or the server told it to stop (`disconnected`). */
export class ConnectionError extends Error {
  constructor(
    readonly status: 'reconnecting' | 'disconnected',
    readonly reason: string,
    /** The close code or error code the server gave, when it gave one. */
    readonly code: number | undefined,
  ) {
    super(code === undefined ? `${status}: ${reason}` : `${status}: ${reason} (${code})`);
    this.name = 'ConnectionError';
  }
}

export interface SwitchboardErrors {
  /**
   * The last problem of the connection, null while connected without one: a `ConnectionError` while reconnecting or
   * after the server refused the session, or what the client reported on its `error` event since (a server `error`
   * push is a `SwitchboardError`; a listener of yours that threw is passed as it was thrown).
   */
  connectionError: Error | null;
  /** The server's refusal of the channel's subscription (`SwitchboardError` with its code); null without a channel. */
  channelError: SwitchboardError | null;
}

const NO_ERRORS: SwitchboardErrors = Object.freeze({ connectionError: null, channelError: null });

function errorOfState(state: ConnectionState): ConnectionError | null {
  if (state.status === 'reconnecting') return new ConnectionError('reconnecting', state.reason, undefined);
  // A plain `disconnected` (never connected, closed or disconnected by the app) is not an error; one with a code is
  // the server's refusal.
  if (state.status === 'disconnected' && state.code !== undefined) return new ConnectionError('disconnected', state.reason, state.code);
  return null;
}

class ErrorsStore extends FrameBatchedStore<SwitchboardErrors> {
  private offs: Array<() => void> = [];
  private subscription: Subscription | null = null;
  private connectionError: Error | null = null;
  private channelError: SwitchboardError | null = null;
  private lastState: ConnectionState | null = null;

  constructor(private readonly client: SwitchboardClientLike, private readonly channel: string | null, batcher: FrameBatcher) {
    super(NO_ERRORS, batcher);
  }

  protected attach(): void {
    this.onState(this.client.state);
    this.offs.push(
      this.client.on('state', (state) => this.onState(state)),
      this.client.on('error', (error) => {
        this.connectionError = error instanceof Error ? error : new Error(String(error));
        this.changed();
      }),
    );
    if (this.channel !== null) {
      this.subscription = this.client.subscribe(this.channel, {
        onError: (error) => {
          this.channelError = error;
          this.changed();
        },
        onState: (status) => {
          if (status !== 'subscribed') return;
          this.channelError = null;
          this.changed();
        },
      });
    }
  }

  private onState(state: ConnectionState): void {
    if (state === this.lastState) return;
    this.lastState = state;
    if (state.status === 'connected') this.connectionError = null;
    else this.connectionError = errorOfState(state) ?? this.connectionError;
    this.changed();
  }

  protected detach(): void {
    for (const off of this.offs.splice(0)) off();
    this.subscription?.unsubscribe();
    this.subscription = null;
  }

  protected nextSnapshot(current: SwitchboardErrors): SwitchboardErrors {
    if (current.connectionError === this.connectionError && current.channelError === this.channelError) return current;
    return { connectionError: this.connectionError, channelError: this.channelError };
  }
}

/**
 * The connection's error and, given a channel, the channel's: rendered at most once per frame, null when there is
 * none. With a channel it holds a listener on the channel's subscription (shared with `useChannel` on the same
 * channel: the client keeps one server subscription per channel).
 */
export function useSwitchboardErrors(channel?: string): SwitchboardErrors {
  const { client, batcher } = useSwitchboardContext();
  const store = useStoreFor([client, batcher, channel ?? null], () => new ErrorsStore(client, channel ?? null, batcher));
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}

// The `Subscription` handle `subscribe()` returns, for every client flavour (the connection's own client and the
// relayed tab clients): one listener's view of a channel that other listeners may share, released at most once.

import type { StreamPosition } from './protocol.js';
import type { PresenceState, SubscriptionListener, SubscriptionState } from './subscriptions.js';
import type { SubscribeOptions, Subscription } from './types.js';

/** What a handle reads from: the channel's shared entry. */
export interface HandleSource {
  readonly state: SubscriptionState;
  readonly position: StreamPosition | null;
  readonly presence: PresenceState | null;
}

/** The listener part of the subscribe options, as one object the channel's entry keeps. */
export function listenerOf(options: SubscribeOptions): SubscriptionListener {
  return {
    onPublication: options.onPublication,
    onState: options.onState,
    onReset: options.onReset,
    onError: options.onError,
    onPresence: options.onPresence,
    onSignal: options.onSignal,
    onReceipt: options.onReceipt,
  };
}

/** `release` runs on the first `unsubscribe()` only; from then on the handle reads `unsubscribed`. */
export function subscriptionHandle(channel: string, source: HandleSource, release: () => void): Subscription {
  let released = false;
  return {
    channel,
    get state() {
      return released ? 'unsubscribed' : source.state;
    },
    get position() {
      return source.position; // frozen, and the same object until the next publication
    },
    get presence() {
      return source.presence;
    },
    unsubscribe: () => {
      if (released) return;
      released = true;
      release();
    },
  };
}

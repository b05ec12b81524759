import { useSyncExternalStore } from 'react';
import type { PresenceState, Subscription, SwitchboardClientLike } from '@switchboard/client';
import { useSwitchboardContext } from '../context.js';
import type { FrameBatcher } from '../frames.js';
import { FrameBatchedStore } from '../store.js';
import { useStoreFor } from './connection.js';

class PresenceStore extends FrameBatchedStore<PresenceState | null> {
  private subscription: Subscription | null = null;

  constructor(private readonly client: SwitchboardClientLike, private readonly channel: string, batcher: FrameBatcher) {
    super(null, batcher);
  }

  protected attach(): void {
    this.subscription = this.client.subscribe(this.channel, { onPresence: () => this.changed() });
    this.changed();
  }

  protected detach(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
  }

  protected nextSnapshot(current: PresenceState | null): PresenceState | null {
    // The client keeps one frozen snapshot until presence changes, so identity says whether to render.
    return this.subscription ? this.subscription.presence : current;
  }
}

/**
 * Who is on a presence channel (`{clients, users, members, complete}`), or null before the first snapshot. Holds a
 * subscription to the channel while mounted: presence comes with subscribing (protocol.md §4.7).
 */
export function usePresence(channel: string): PresenceState | null {
  const { client, batcher } = useSwitchboardContext();
  const store = useStoreFor([client, batcher, channel], () => new PresenceStore(client, channel, batcher));
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}

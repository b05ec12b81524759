import { useSyncExternalStore } from 'react';
import type { PresenceState, Subscription, SwitchboardClientLike } from '@switchboard/client';
import { useSwitchboardContext } from '../context.js';
import type { FrameBatcher } from '../frames.js';
import { FrameBatchedStore } from '../store.js';
import { useStoreFor } from './connection.js';

class PresenceStore<Info> extends FrameBatchedStore<PresenceState<Info> | null> {
  private subscription: Subscription<Info> | null = null;

  constructor(private readonly client: SwitchboardClientLike, private readonly channel: string, batcher: FrameBatcher) {
    super(null, batcher);
  }

  protected attach(): void {
    this.subscription = this.client.subscribe<unknown, Info>(this.channel, { onPresence: () => this.changed() });
    this.changed();
  }

  protected detach(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
  }

  protected nextSnapshot(current: PresenceState<Info> | null): PresenceState<Info> | null {
    // The client keeps one frozen snapshot until presence changes, so identity says whether to render.
    return this.subscription ? this.subscription.presence : current;
  }
}

/**
 * Who is on a presence channel (`{clients, users, members, complete}`), or null before the first snapshot. Holds a
 * subscription to the channel while mounted: presence comes with subscribing (protocol.md §4.7). `Info` types the
 * members' `info` (what each client gave as `info` when it connected).
 */
export function usePresence<Info = unknown>(channel: string): PresenceState<Info> | null {
  const { client, batcher } = useSwitchboardContext();
  const store = useStoreFor([client, batcher, channel], () => new PresenceStore<Info>(client, channel, batcher));
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}

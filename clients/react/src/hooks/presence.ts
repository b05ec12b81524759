import { useEffect, useRef, useSyncExternalStore } from 'react';
import type { PresenceState, Subscription, SwitchboardClientLike } from '@switchboard/client';
import { useSwitchboardContext } from '../context.js';
import type { FrameBatcher } from '../frames.js';
import { FrameBatchedStore } from '../store.js';
import { useStoreFor } from './connection.js';

class PresenceStore<Info> extends FrameBatchedStore<PresenceState<Info> | null> {
  private subscription: Subscription<Info> | null = null;

  constructor(
    private readonly client: SwitchboardClientLike,
    private readonly channel: string,
    private readonly joins: boolean,
    batcher: FrameBatcher,
  ) {
    super(null, batcher);
  }

  protected attach(): void {
    this.subscription = this.client.subscribe<unknown, Info>(this.channel, {
      onPresence: () => this.changed(),
      ...(this.joins ? {} : { joinPresence: false }),
    });
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

export interface UsePresenceOptions<Info = unknown> {
  /**
   * Your own presence info on this channel (instead of the client's `info`), sent with `client.updatePresence` when
   * mounted and whenever it changes (compared as JSON); the others see a `presence_update` (protocol.md §4.7).
   * Leave it out to only listen.
   */
  data?: Info;
  /** The server refused the update (e.g. `130`: the namespace does not track presence). */
  onError?(error: unknown): void;
}

/**
 * Who is on a presence channel (`{clients, users, members, complete}`), or null before the first snapshot. Holds a
 * subscription to the channel while mounted: presence comes with subscribing (protocol.md §4.7). `Info` types the
 * members' `info` (what each client gave as `info` when it connected, or its `data` here).
 */
export function usePresence<Info = unknown>(channel: string, options: UsePresenceOptions<Info> = {}): PresenceState<Info> | null {
  const { client, batcher } = useSwitchboardContext();
  const store = useStoreFor([client, batcher, channel, true], () => new PresenceStore<Info>(client, channel, true, batcher));
  const presence = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
  const data = options.data === undefined ? undefined : JSON.stringify(options.data);
  const onError = useRef(options.onError);
  onError.current = options.onError;
  // After the store's subscription (React runs the effects of a component in order): the channel's entry exists,
  // so the info is kept for every resubscribe.
  useEffect(() => {
    if (data === undefined) return;
    client.updatePresence(channel, JSON.parse(data)).catch((error: unknown) => onError.current?.(error));
  }, [client, channel, data]);
  return presence;
}

/**
 * Who is on a presence channel, without being on it: the channel's subscription is taken with `joinPresence: false`,
 * so this connection is not listed and nobody sees it join (unless another hook or listener on the same channel
 * joins: the shared subscription joins as soon as one of them does). For dashboards and "who's online" widgets.
 */
export function usePresenceListener<Info = unknown>(channel: string): PresenceState<Info> | null {
  const { client, batcher } = useSwitchboardContext();
  const store = useStoreFor([client, batcher, channel, false], () => new PresenceStore<Info>(client, channel, false, batcher));
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}

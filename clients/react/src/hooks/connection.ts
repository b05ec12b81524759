import { useState, useSyncExternalStore } from 'react';
import type { ConnectionState, SwitchboardClientLike } from '@switchboard/client';
import { useSwitchboardContext } from '../context.js';
import type { FrameBatcher } from '../frames.js';
import { FrameBatchedStore } from '../store.js';

class ConnectionStateStore extends FrameBatchedStore<ConnectionState> {
  private off: (() => void) | null = null;

  constructor(private readonly client: SwitchboardClientLike, batcher: FrameBatcher) {
    super(client.state, batcher);
  }

  protected attach(): void {
    this.off = this.client.on('state', () => this.changed());
    this.changed(); // the state may have moved between the first render and this subscription
  }

  protected detach(): void {
    this.off?.();
    this.off = null;
  }

  protected nextSnapshot(): ConnectionState {
    return this.client.state; // a frozen object that keeps its identity until the state changes
  }
}

/** The client's connection state (`connecting`, `connected`, `reconnecting`, `disconnected`), at most once per frame. */
export function useConnectionState(): ConnectionState {
  const { client, batcher } = useSwitchboardContext();
  const store = useStoreFor([client, batcher], () => new ConnectionStateStore(client, batcher));
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}

/**
 * A store that lives as long as its key: a new client or channel gets a new store (and React resubscribes to it).
 * Kept in state rather than useMemo because React may drop memoized values; creating a store has no side effect, so
 * StrictMode's extra render only makes garbage.
 */
export function useStoreFor<S>(key: readonly unknown[], create: () => S): S {
  const [holder, setHolder] = useState(() => ({ key, store: create() }));
  if (holder.key.length !== key.length || holder.key.some((part, index) => !Object.is(part, key[index]))) {
    const next = { key, store: create() };
    setHolder(next); // React re-renders this component at once with the new store, before committing
    return next.store;
  }
  return holder.store;
}

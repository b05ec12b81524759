// The external store behind every hook (read by React's useSyncExternalStore).
//
// Two rules make the hooks StrictMode-safe and cheap:
// - The store holds its network resource (a channel subscription, a socket) only while React is subscribed to it,
//   and lets go of it a microtask after the last React subscriber leaves. StrictMode's mount → unmount → mount runs
//   synchronously, so the re-mount cancels the release: no second subscription or connection, none left behind.
// - Events update the store's pending state at once, but the snapshot React reads changes only when the frame
//   batcher flushes it: at most one render per animation frame per hook, whatever the event rate.

import type { Flushable, FrameBatcher } from './frames.js';

export abstract class FrameBatchedStore<Snapshot> implements Flushable {
  private readonly reactListeners = new Set<() => void>();
  private attached = false;
  private releaseTicket = 0;
  private snapshot: Snapshot;

  constructor(initial: Snapshot, private readonly batcher: FrameBatcher) {
    this.snapshot = initial;
  }

  /** Takes the resource (subscribe, open a socket). Called when React first subscribes. */
  protected abstract attach(): void;
  /** Gives it back. Called a microtask after React's last subscriber left, unless one came back meanwhile. */
  protected abstract detach(): void;
  /** The next snapshot from the pending state; return the current one when nothing visible changed. */
  protected abstract nextSnapshot(current: Snapshot): Snapshot;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.reactListeners.add(listener);
    this.releaseTicket++; // a release scheduled by a StrictMode unmount is void now
    if (!this.attached) {
      this.attached = true;
      this.attach();
    }
    return () => {
      this.reactListeners.delete(listener);
      if (this.reactListeners.size > 0) return;
      const ticket = ++this.releaseTicket;
      queueMicrotask(() => {
        if (ticket !== this.releaseTicket || !this.attached) return;
        this.attached = false;
        this.detach();
      });
    };
  };

  readonly getSnapshot = (): Snapshot => this.snapshot;

  get isAttached(): boolean {
    return this.attached;
  }

  /** Something changed: React will hear about it on the next frame. */
  protected changed(): void {
    this.batcher.schedule(this);
  }

  /** Called by the frame batcher. */
  flush(): void {
    const next = this.nextSnapshot(this.snapshot);
    if (Object.is(next, this.snapshot)) return;
    this.snapshot = next;
    for (const listener of [...this.reactListeners]) listener();
  }
}

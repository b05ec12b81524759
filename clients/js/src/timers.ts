// Time is injected so that backoff, heartbeats and token refresh can be tested with a fake clock.

export type TimerHandle = unknown;

export interface Timers {
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};

/**
 * One named timer slot: arming it again replaces the previous deadline, so a component can never leak a second
 * timer for the same purpose, and `close()` can cancel every slot it owns.
 */
export class TimerSlot {
  private handle: TimerHandle | null = null;
  constructor(private readonly timers: Timers) {}

  arm(ms: number, callback: () => void): void {
    this.cancel();
    const handle = this.timers.setTimeout(() => {
      if (this.handle === handle) this.handle = null;
      callback();
    }, Math.max(0, ms));
    this.handle = handle;
  }

  cancel(): void {
    if (this.handle !== null) {
      this.timers.clearTimeout(this.handle);
      this.handle = null;
    }
  }

  get armed(): boolean {
    return this.handle !== null;
  }
}

// A manual clock implementing the client's `Timers`: nothing fires until the test advances time, and the test can
// see how many timers are still pending (a client that was closed must leave none).

import type { Timers } from '../timers.js';

interface FakeTimer {
  id: number;
  due: number;
  callback: () => void;
}

export class FakeTimers implements Timers {
  private current = 0;
  private nextId = 1;
  private timers: FakeTimer[] = [];

  constructor(start = 1_700_000_000_000) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): number {
    const timer = { id: this.nextId++, due: this.current + Math.max(0, ms), callback };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((timer) => timer.id !== handle);
  }

  get pending(): number {
    return this.timers.length;
  }

  /** The delays (from now) of the pending timers, soonest first. */
  pendingDelays(): number[] {
    return this.timers.map((timer) => timer.due - this.current).sort((a, b) => a - b);
  }

  /**
   * Moves time forward, firing due timers in order. Between timers it lets promise callbacks run (`settle`), so
   * that async work a timer starts (a fake transport's answers) happens at the right moment.
   */
  async advance(ms: number, settle: () => Promise<void> = flushMicrotasks): Promise<void> {
    const target = this.current + ms;
    await settle();
    for (;;) {
      this.timers.sort((a, b) => a.due - b.due || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.due > target) break;
      this.timers.shift();
      this.current = next.due;
      next.callback();
      await settle();
    }
    this.current = target;
    await settle();
  }
}

/** Lets every queued promise callback run (one macrotask turn drains the microtask queue). */
export function flushMicrotasks(): Promise<void> {
  const scope = globalThis as { setImmediate?: (callback: () => void) => unknown };
  return new Promise((resolve) => (scope.setImmediate ? scope.setImmediate(resolve) : setTimeout(resolve, 0)));
}

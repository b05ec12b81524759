// The connection's bookkeeping between attempts (connection.ts): what the app wants and which run of attempts is
// current, the failed attempts and the backoff before the next, and the connection's own timers.

import type { Backoff } from './backoff.js';
import { TimerSlot, type Timers } from './timers.js';

/**
 * What the app wants (`wanted`) and which run of attempts is current: a run's late async results (getToken) are
 * ignored once it was abandoned.
 */
export class Intent {
  wanted = false;
  private generation = 0;

  /** A new attempt: the previous one's late results no longer count. */
  newRun(): () => boolean {
    this.generation++;
    return this.check();
  }

  /** Stop wanting to be connected, and abandon the current run. */
  drop(): void {
    this.wanted = false;
    this.generation++;
  }

  /** True while no new attempt started and the app still wants to be connected. */
  check(): () => boolean {
    const generation = this.generation;
    return () => generation === this.generation && this.wanted;
  }
}

/** Failed attempts since the last stable connection, the last one's reason, and the backoff before the next. */
export class RetrySchedule {
  attempt = 0;
  reason = '';

  constructor(private readonly backoff: Backoff) {}

  /** One more failed attempt: the delay before the next. */
  failed(reason: string): number {
    this.attempt++;
    this.reason = reason;
    return this.backoff.delayMs(this.attempt);
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** The connection's own timers, all cancelled when a link ends. */
export class ConnectionTimers {
  readonly reconnect: TimerSlot;
  /** No connect reply in time. */
  readonly open: TimerSlot;
  /** Connected long enough to count as stable: the backoff starts over. */
  readonly stable: TimerSlot;
  /** No heartbeat from the server in time. */
  readonly watchdog: TimerSlot;

  constructor(timers: Timers) {
    this.reconnect = new TimerSlot(timers);
    this.open = new TimerSlot(timers);
    this.stable = new TimerSlot(timers);
    this.watchdog = new TimerSlot(timers);
  }

  cancelAll(): void {
    this.reconnect.cancel();
    this.open.cancel();
    this.stable.cancel();
    this.watchdog.cancel();
  }
}

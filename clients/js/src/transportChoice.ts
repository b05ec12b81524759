// Transport selection: which transport the next attempt uses, the fallback to the next one after failures in a row,
// and the upgrade probe that, while on a fallback, opens a preferred transport on the side and moves back once it does.

import type { Link } from './link.js';
import type { Logger } from './log.js';
import { TimerSlot, type Timers } from './timers.js';
import type { Transport, TransportContext, TransportFactory } from './transport.js';
import { BUILT_IN_TRANSPORTS } from './transports/index.js';
import type { ClientOptions } from './types.js';

export class TransportChoice {
  readonly factories: TransportFactory[];
  private index = 0;
  private failures = 0;
  /** Fallbacks and upgrades so far (`stats.transportSwitches`). */
  switches = 0;

  constructor(private readonly options: ClientOptions, private readonly timers: Timers, private readonly log: Logger) {
    this.factories = (options.transports ?? ['websocket', 'sse', 'poll']).map((transport) => {
      if (typeof transport !== 'string') return transport;
      const factory = BUILT_IN_TRANSPORTS[transport];
      if (!factory) throw new Error(`unknown transport "${transport}"`);
      return factory;
    });
    if (this.factories.length === 0) throw new Error('at least one transport is required');
  }

  /** The transport the next attempt opens. */
  get current(): TransportFactory {
    return this.factories[this.index];
  }

  /** Position of the current transport in the order of preference (0: the preferred one). */
  get rank(): number {
    return this.index;
  }

  context(): TransportContext {
    return {
      baseUrl: this.options.url,
      timers: this.timers,
      log: this.log,
      pollTimeoutMs: this.options.pollTimeoutMs ?? 25000,
      format: this.options.format ?? 'json',
      fetch: this.options.fetch,
      WebSocket: this.options.WebSocket,
    };
  }

  /** A connect reply arrived: the transport works. */
  succeeded(): void {
    this.failures = 0;
  }

  /** An attempt ended before its connect reply; after enough of them in a row, the next transport gets its turn. */
  failed(): void {
    this.failures++;
    if (this.factories.length < 2 || this.failures < (this.options.fallbackAfterFailures ?? 2)) return;
    const from = this.current.name;
    // Wrapping around from the last transport matters when the server itself was down: every transport failed,
    // and the preferred one deserves the next chance.
    this.index = (this.index + 1) % this.factories.length;
    this.failures = 0;
    this.switches++;
    this.log('falling back', { from, to: this.current.name });
  }

  /** A preferred transport proved that it opens: the next attempt uses it. */
  upgradeTo(index: number): void {
    this.switches++;
    this.index = index;
    this.failures = 0;
  }
}

/** Opens preferred transports on the side while connected on a fallback; if one opens, the client moves over. */
export class UpgradeProbe {
  private probe: Transport | null = null;
  private readonly timer: TimerSlot;
  private readonly openTimer: TimerSlot;

  constructor(
    private readonly options: ClientOptions,
    timers: Timers,
    private readonly log: Logger,
    private readonly choice: TransportChoice,
    private readonly currentLink: () => Link | null,
    /** Moves to a new link on the transport the choice now names (positions make that lossless). */
    private readonly reconnect: () => void,
  ) {
    this.timer = new TimerSlot(timers);
    this.openTimer = new TimerSlot(timers);
  }

  /**
   * The first probe after connecting on a fallback transport comes early: when the server itself was down, every
   * transport failed and the client may have fallen back for no network reason, so it should not sit on long-polling
   * for a whole probe period. A truly blocked transport costs one failed probe.
   */
  schedule(first = true): void {
    const every = this.options.upgradeProbeMs ?? 60000;
    if (this.choice.rank === 0 || every <= 0) return;
    this.timer.arm(first ? Math.min(every, 2000) : every, () => this.run(0));
  }

  /** Ends a probe in progress (the link it was probing for is gone). */
  close(): void {
    if (!this.probe) return;
    this.probe.close();
    this.probe = null;
    this.openTimer.cancel();
  }

  cancelTimers(): void {
    this.timer.cancel();
    this.openTimer.cancel();
  }

  private run(index: number): void {
    const link = this.currentLink();
    if (!link?.connected) return;
    if (index >= this.choice.rank) {
      this.schedule(false);
      return;
    }
    const factory = this.choice.factories[index];
    const probe = factory.create(this.choice.context());
    this.probe = probe;
    let settled = false;
    const settle = (opened: boolean) => {
      if (settled) return;
      settled = true;
      this.openTimer.cancel();
      probe.close();
      if (this.probe === probe) this.probe = null;
      if (this.currentLink() !== link) return;
      if (!opened) {
        this.run(index + 1);
        return;
      }
      this.log('upgrading transport', { from: link.transportName, to: factory.name });
      this.choice.upgradeTo(index);
      this.reconnect();
    };
    this.openTimer.arm(this.options.openTimeoutMs ?? 10000, () => settle(false));
    probe.open({
      onOpen: () => settle(true),
      onMessage: () => {},
      onActivity: () => {},
      onClose: () => settle(false),
    });
  }
}

// "Alice is typing…": a throttled sender and an expiring list of who is typing, on top of signals (protocol.md
// §4.8). Built only on the public client API (subscribe with onSignal, signal, state), so it works the same with a
// shared-tab client and in UI bindings.
//
// Sending: the first keystroke goes out at once; later ones within `intervalMs` are held and the latest state goes
// out when the interval ends. That mirrors the server's own coalescing (at most one signal per type per
// `signal_interval_ms`), so a client throttled to the same interval never has its signals held back by the server,
// and a `stop()` right after typing still arrives, after it.
//
// Receiving: every typing signal (re)starts that connection's expiry; silence for `expireAfterMs` — or a
// `{typing:false}` signal — removes it. The expiry must be longer than the sender's interval (default 3 s vs 1 s),
// since a steady typist refreshes it once per interval.

import type { Signal, SubscriptionListener } from './subscriptions.js';
import type { ConnectionState, SubscribeOptions, Subscription } from './types.js';
import { realTimers, TimerSlot, type Timers } from './timers.js';

/** What the typing indicator needs of a client; `SwitchboardClient` and the shared-tab client both offer it. */
export interface TypingClient {
  readonly state: ConnectionState;
  subscribe(channel: string, options?: SubscribeOptions): Subscription;
  signal(channel: string, type: string, data?: unknown): Promise<{ coalesced: boolean }>;
  /** The namespace's `signal_interval_ms` from the subscribe reply (the connection's own client knows it). */
  signalIntervalMs?(channel: string): number | undefined;
}

export interface TypingOptions {
  /** The signal type (default `typing`). */
  type?: string;
  /**
   * At most one typing signal per this many ms. Default: the namespace's `signal_interval_ms` as the subscribe reply
   * told it, else 1000 (the server's default).
   */
  intervalMs?: number;
  /** A typist who has been silent this long is no longer typing (default 3000). */
  expireAfterMs?: number;
  /** Called whenever the list of typists changes. */
  onChange?(typists: readonly Typist[]): void;
  timers?: Timers;
}

/** A connection (not the local one) that is typing on the channel. */
export interface Typist {
  client: string;
  user?: string;
}

export class TypingIndicator {
  private readonly type: string;
  private readonly fixedIntervalMs: number | undefined;
  private readonly expireAfterMs: number;
  private readonly timers: Timers;
  private readonly subscription: Subscription;
  private readonly expiries = new Map<string, { typist: Typist; timer: TimerSlot }>();
  private readonly changeListeners = new Set<(typists: readonly Typist[]) => void>();
  private snapshot: readonly Typist[] = Object.freeze([]);
  /** Open while no signal went out within the last interval. */
  private readonly gate: TimerSlot;
  /** The state waiting for the gate to open (the latest wins), or null. */
  private held: boolean | null = null;
  /** Whether the last state sent (or held) was "typing", so that stop() after silence sends nothing. */
  private announced = false;
  private closed = false;

  constructor(
    private readonly client: TypingClient,
    readonly channel: string,
    options: TypingOptions = {},
  ) {
    this.type = options.type ?? 'typing';
    this.fixedIntervalMs = options.intervalMs;
    this.expireAfterMs = options.expireAfterMs ?? 3000;
    this.timers = options.timers ?? realTimers;
    this.gate = new TimerSlot(this.timers);
    if (options.onChange) this.changeListeners.add(options.onChange);
    const listener: SubscriptionListener = { onSignal: (signal) => this.receive(signal) };
    this.subscription = client.subscribe(channel, listener);
  }

  /** Who is typing now, the local connection excluded. The same frozen array until the list changes. */
  get typists(): readonly Typist[] {
    return this.snapshot;
  }

  /** Listens to changes of `typists`; returns the function that stops listening. */
  onChange(listener: (typists: readonly Typist[]) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Call on every keystroke: throttled to one signal per interval. */
  typing(): void {
    this.announce(true);
  }

  /** The user sent the message or cleared the input: others stop showing the indicator without waiting for expiry. */
  stop(): void {
    if (this.announced) this.announce(false);
  }

  /** Stops listening and sending; releases the channel listener and every timer. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.gate.cancel();
    this.held = null;
    for (const { timer } of this.expiries.values()) timer.cancel();
    this.expiries.clear();
    this.changeListeners.clear();
    this.subscription.unsubscribe();
  }

  private announce(typing: boolean): void {
    if (this.closed) return;
    this.announced = typing;
    if (this.gate.armed) {
      this.held = typing;
      return;
    }
    this.send(typing);
  }

  private send(typing: boolean): void {
    // Best effort: offline or refused, a typing indicator is not worth an error for the app.
    this.client.signal(this.channel, this.type, { typing }).catch(() => {});
    this.gate.arm(this.intervalMs(), () => {
      const held = this.held;
      this.held = null;
      if (held !== null && !this.closed) this.send(held);
    });
  }

  private receive(signal: Signal): void {
    if (this.closed || signal.type !== this.type) return;
    const state = this.client.state;
    if (state.status === 'connected' && signal.client === state.clientId) return;
    const stopped = (signal.data as { typing?: unknown } | undefined)?.typing === false;
    const existing = this.expiries.get(signal.client);
    if (stopped) {
      if (existing) this.remove(signal.client);
      return;
    }
    if (existing) {
      existing.timer.arm(this.expireAfterMs, () => this.remove(signal.client));
      return;
    }
    const typist: Typist = Object.freeze({ client: signal.client, ...(signal.user !== undefined ? { user: signal.user } : {}) });
    const timer = new TimerSlot(this.timers);
    this.expiries.set(signal.client, { typist, timer });
    timer.arm(this.expireAfterMs, () => this.remove(signal.client));
    this.changed();
  }

  private remove(client: string): void {
    const entry = this.expiries.get(client);
    if (!entry) return;
    entry.timer.cancel();
    this.expiries.delete(client);
    this.changed();
  }

  private changed(): void {
    this.snapshot = Object.freeze([...this.expiries.values()].map((entry) => entry.typist));
    for (const listener of [...this.changeListeners]) {
      try {
        listener(this.snapshot);
      } catch {
        // An app callback that throws must not stop the others or the expiry bookkeeping.
      }
    }
  }

  /** The sender's interval: the one given, else the server's for this channel, else the server's default. */
  private intervalMs(): number {
    return this.fixedIntervalMs ?? this.client.signalIntervalMs?.(this.channel) ?? 1000;
  }
}

/** A typing indicator for `channel` (subscribes to it; `close()` releases it). */
export function typingIndicator(client: TypingClient, channel: string, options?: TypingOptions): TypingIndicator {
  return new TypingIndicator(client, channel, options);
}

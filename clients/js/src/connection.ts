// Connection lifecycle and backoff: one link at a time, the connect handshake, the heartbeat watchdog, reconnection
// with full-jitter backoff (skipped when the browser comes back online or visible), and the server's advice on close.
// What the app wants (`Intent`) is kept apart from what the connection is (`state`): the intent survives drops.

import { ConnectionTimers, Intent, RetrySchedule } from './attempts.js';
import { Backoff } from './backoff.js';
import { Link } from './link.js';
import type { Logger } from './log.js';
import { adviceForCloseCode, isTokenError, type Command, type Reply, type ServerMessage } from './protocol.js';
import type { Timers } from './timers.js';
import type { TokenKeeper } from './tokenKeeper.js';
import type { TransportCloseEvent } from './transport.js';
import type { TransportChoice } from './transportChoice.js';
import type { ClientOptions, ConnectionState } from './types.js';
import { SDK_NAME } from './version.js';
import { WakeSignals } from './wakeSignals.js';

/** What the rest of the client does at each step of the lifecycle. */
export interface ConnectionHooks {
  /** The connect reply: the link takes the client's commands from now on. */
  connected(link: Link): void;
  /** A reply or push on the current link. */
  message(link: Link, message: ServerMessage): void;
  /** The current link ended and the commands it lost were told: put what they held back in line. */
  dropped(): void;
  /** The other parts' timers, which only make sense on the link that just ended. */
  cancelTimers(): void;
  /** The server said not to come back. */
  stopped(code: number, reason: string): void;
  state(state: ConnectionState): void;
  error(error: unknown): void;
}

export class Connection {
  /** The app's intent and the current run of attempts. */
  private readonly intent = new Intent();
  private currentState: ConnectionState = { status: 'disconnected', transport: null, reason: 'not connected yet' };
  private link: Link | null = null;
  private readonly retry: RetrySchedule;
  private nextCommandId = 1;
  /** Connect replies so far (`stats.connects`). */
  connects = 0;
  private readonly wakeSignals: WakeSignals;
  private readonly slots: ConnectionTimers;

  constructor(
    private readonly options: ClientOptions,
    timers: Timers,
    random: () => number,
    private readonly log: Logger,
    private readonly transports: TransportChoice,
    private readonly tokens: TokenKeeper,
    private readonly hooks: ConnectionHooks,
  ) {
    this.retry = new RetrySchedule(new Backoff(options.backoff, random));
    this.wakeSignals = new WakeSignals(options.environment, this.retryNow);
    this.slots = new ConnectionTimers(timers);
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** The link of the current attempt (connected or not yet), if any. */
  get current(): Link | null {
    return this.link;
  }

  /** Whether the client means to be connected (whatever the connection's state right now). */
  get running(): boolean {
    return this.intent.wanted;
  }

  /** A check that stays true while this run lasts: no new attempt started, no stop. */
  runCheck(): () => boolean {
    return this.intent.check();
  }

  /** Starts connecting; a no-op while already meant to be connected. */
  start(): void {
    if (this.intent.wanted) return;
    this.intent.wanted = true;
    this.retry.reset();
    this.wakeSignals.attach();
    void this.startAttempt();
  }

  /** Drops the link and stops trying; no timer or environment listener is left. */
  halt(): void {
    this.intent.drop();
    this.endLink();
    this.wakeSignals.detach();
  }

  /** Reports that the app stopped the connection (`disconnect()`, `close()`). */
  reportStopped(reason: string): void {
    this.setState({ status: 'disconnected', transport: null, reason });
  }

  /** Ends the current link and starts a new attempt at once (the transport choice changed). */
  restart(): void {
    this.endLink();
    void this.startAttempt();
  }

  private async startAttempt(): Promise<void> {
    const current = this.intent.newRun();
    const transport = this.transports.current.name;
    const attempt = this.retry.attempt;
    if (attempt === 0) {
      this.setState({ status: 'connecting', transport, attempt: 0 });
    } else {
      this.setState({ status: 'reconnecting', transport, attempt, nextRetryMs: 0, reason: this.retry.reason });
    }
    let token: string | null;
    try {
      token = await this.tokens.resolve();
    } catch (error) {
      if (!current()) return;
      this.log('getToken failed', String(error));
      this.hooks.error(error);
      this.scheduleReconnect(`getToken failed: ${String(error)}`);
      return;
    }
    if (!current()) return;

    const factory = this.transports.current;
    const link = new Link(factory.create(this.transports.context()), factory.name, this.log, () => this.nextCommandId++);
    this.link = link;
    this.log('opening', { transport: factory.name, attempt: this.retry.attempt });
    this.slots.open.arm(this.options.openTimeoutMs ?? 10000, () =>
      this.onLinkClosed(link, { code: 1006, reason: `no connect reply within ${this.options.openTimeoutMs ?? 10000} ms` }),
    );
    // Every handler ignores a link that is no longer the current one: a replaced transport may still report.
    link.transport.open({
      onOpen: () => {
        if (link === this.link) this.sendConnect(link, token);
      },
      onMessage: (message) => {
        if (link === this.link) this.hooks.message(link, message);
      },
      onActivity: () => {
        if (link === this.link && link.connected) this.armWatchdog(link);
      },
      onClose: (event) => this.onLinkClosed(link, event),
    });
  }

  private sendConnect(link: Link, token: string | null): void {
    const connect: Command = { cmd: 'connect', sdk: SDK_NAME };
    if (token) connect.token = token;
    if (this.options.info !== undefined) connect.info = this.options.info;
    // Harmless on SSE and long-poll, which deliver one message per event or a list anyway.
    if (this.options.batchFrames ?? true) connect.batch = true;
    link.send(connect, { onReply: (reply) => this.onConnectReply(link, reply), onLost: () => {} });
  }

  private onConnectReply(link: Link, reply: Reply): void {
    if (reply.error) {
      this.log('connect refused', reply.error);
      if (isTokenError(reply.error.code)) this.tokens.invalidate();
      // The server closes the connection next (4501/4502/4004); that close decides what happens.
      return;
    }
    const result = reply.result ?? {};
    link.connected = true;
    link.clientId = String(result.client ?? '');
    link.user = typeof result.user === 'string' ? result.user : undefined;
    if (typeof result.ping === 'number' && result.ping > 0) link.pingIntervalMs = result.ping;
    this.slots.open.cancel();
    this.transports.succeeded();
    this.connects++;
    this.setState({
      status: 'connected',
      transport: link.transportName,
      clientId: link.clientId,
      ...(typeof result.user === 'string' ? { user: result.user } : {}),
    });
    this.slots.stable.arm(this.options.stableAfterMs ?? 10000, () => this.retry.reset());
    this.armWatchdog(link);
    this.tokens.scheduleRefresh(result.expires);
    this.hooks.connected(link);
  }

  private onLinkClosed(link: Link, event: TransportCloseEvent): void {
    if (link !== this.link) return;
    const code = link.disconnect?.code ?? event.code;
    const reason = link.disconnect?.reason || event.reason || `closed with ${code}`;
    this.log('link closed', { transport: link.transportName, code, reason, connected: link.connected });
    this.endLink();

    const advice = adviceForCloseCode(code);
    if (!link.connected && advice === 'reconnect') this.transports.failed();
    if (advice === 'stop') {
      this.stopWith(code, reason);
      return;
    }
    if (advice === 'new-token') {
      this.tokens.invalidate();
      if (!this.tokens.renewable) {
        this.stopWith(code, `${reason} (no getToken to obtain a new token)`);
        return;
      }
    }
    this.scheduleReconnect(reason);
  }

  private scheduleReconnect(reason: string): void {
    if (!this.intent.wanted) return;
    const delay = this.retry.failed(reason);
    this.setState({
      status: 'reconnecting',
      transport: this.transports.current.name,
      attempt: this.retry.attempt,
      nextRetryMs: delay,
      reason,
    });
    this.slots.reconnect.arm(delay, () => void this.startAttempt());
  }

  /** The server said not to come back (protocol §6): the intent is dropped with the link. */
  private stopWith(code: number, reason: string): void {
    this.intent.drop();
    this.wakeSignals.detach();
    this.hooks.stopped(code, reason);
    this.setState({ status: 'disconnected', transport: null, reason, code });
  }

  /** Ends the current link (its commands in flight are told they were lost) and cancels every timer. */
  private endLink(): void {
    const link = this.link;
    if (link) {
      this.link = null;
      for (const command of link.end()) command.onLost();
      this.hooks.dropped();
    }
    this.slots.cancelAll();
    this.hooks.cancelTimers();
  }

  private armWatchdog(link: Link): void {
    const quietMs = link.transportName === 'poll' ? this.options.pollTimeoutMs ?? 25000 : link.pingIntervalMs;
    this.slots.watchdog.arm(quietMs + (this.options.heartbeatGraceMs ?? 10000), () =>
      this.onLinkClosed(link, { code: 1006, reason: 'no heartbeat from the server' }),
    );
  }

  private setState(state: ConnectionState): void {
    this.currentState = state;
    this.log('state', state);
    this.hooks.state(state);
  }

  /** The browser came back online or the tab became visible: skip the rest of the backoff wait. */
  private retryNow = (): void => {
    if (!this.intent.wanted || !this.slots.reconnect.armed) return;
    this.log('retrying now (online or visible)');
    this.slots.reconnect.cancel();
    void this.startAttempt();
  };
}

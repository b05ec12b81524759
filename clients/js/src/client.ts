// The client's state machine: one link (a transport plus the commands in flight on it) at a time, reconnection
// with backoff, resubscription from tracked positions, the offline publish queue, token lifecycle and transport
// fallback. Time, randomness, the environment's online/visibility events and the transports are injected, so all
// of it runs against fake timers and a fake transport in tests.

import { Backoff } from './backoff.js';
import { makeLogger, summarize, type Logger } from './log.js';
import {
  adviceForCloseCode,
  ErrorCode,
  isReply,
  isTokenError,
  SwitchboardError,
  type Command,
  type Reply,
  type ServerMessage,
} from './protocol.js';
import {
  ChannelEntry,
  type PresenceMember,
  type Publication,
  type Receipt,
  type ResetEvent,
  type SubscriptionListener,
} from './subscriptions.js';
import { realTimers, TimerSlot, type Timers } from './timers.js';
import type { Transport, TransportCloseEvent, TransportContext, TransportFactory, TransportName } from './transport.js';
import { ClientClosedError, NotConnectedError, PublishQueueFullError } from './errors.js';
import { refreshDelayMs } from './tokens.js';
import { PublishQueue, type QueuedPublish } from './publishQueue.js';
import { AckQueue, type AckStatus, type PendingAck } from './acks.js';
import { BUILT_IN_TRANSPORTS } from './transports/index.js';
import type {
  ClientEnvironment,
  ClientOptions,
  ClientStats,
  ConnectionState,
  PresenceAndSignals,
  PresencePage,
  PublishOptions,
  PublishResult,
  ReceiptRecord,
  SubscribeOptions,
  Subscription,
  SwitchboardClientLike,
} from './types.js';
import { ClientEvents } from './events.js';

export * from './types.js';
export { ClientClosedError, NotConnectedError, PublishQueueFullError } from './errors.js';

type ClientEvent = 'state' | 'error' | 'reset';

interface PendingCommand {
  onReply(reply: Reply): void;
  /** The link ended before the reply arrived. */
  onLost(): void;
}

/** Everything that belongs to one transport connection; dropped as a whole when it ends. */
class Link {
  readonly pending = new Map<number, PendingCommand>();
  connected = false;
  clientId = '';
  /** The session's user (the token's `sub`); acknowledging receipts needs one. */
  user: string | undefined;
  pingIntervalMs = 25000;
  disconnect: { code: number; reason: string } | null = null;
  outbox: Command[] = [];
  constructor(readonly transport: Transport, readonly transportName: TransportName) {}
}


export class SwitchboardClient implements SwitchboardClientLike, PresenceAndSignals {
  private readonly options: ClientOptions;
  private readonly timers: Timers;
  private readonly log: Logger;
  private readonly backoff: Backoff;
  private readonly random: () => number;
  private readonly transports: TransportFactory[];
  private readonly environment: ClientEnvironment | null;

  private currentState: ConnectionState;
  private link: Link | null = null;
  private readonly channels = new Map<string, ChannelEntry>();
  private readonly publishQueue = new PublishQueue();
  private readonly ackQueue: AckQueue;
  /** Acks sent on the current link and not answered yet; they go back to the queue if the link drops. */
  private lostAcks: PendingAck[] | null = null;
  /** Collects the publishes of a link being dropped (see dropLink). */
  private lostPublishes: QueuedPublish[] | null = null;
  private readonly events = new ClientEvents();

  private token: string | null | undefined;
  private refreshing = false;
  private attempt = 0;
  private transportIndex = 0;
  private failuresOnTransport = 0;
  /** Bumped whenever an attempt is abandoned, so that late async results (getToken) are ignored. */
  private generation = 0;
  private closed = false;
  private running = false;
  private nextCommandId = 1;
  private publishCounter = 0;
  private readonly instanceId: string;
  private probe: Transport | null = null;
  private environmentAttached = false;
  private readonly statsCounters = {
    connects: 0,
    transportSwitches: 0,
    resets: 0,
    refreshes: 0,
    acksSent: 0,
    droppedEntries: 0,
    gapsOfDropped: 0,
  };

  private readonly reconnectTimer: TimerSlot;
  private readonly openTimer: TimerSlot;
  private readonly stableTimer: TimerSlot;
  private readonly watchdogTimer: TimerSlot;
  private readonly refreshTimer: TimerSlot;
  private readonly probeTimer: TimerSlot;
  private readonly probeOpenTimer: TimerSlot;
  private readonly ackRetryTimer: TimerSlot;

  constructor(options: ClientOptions) {
    this.options = options;
    this.timers = options.timers ?? realTimers;
    this.log = makeLogger(options.debug);
    this.random = options.random ?? Math.random;
    this.backoff = new Backoff(options.backoff, this.random);
    this.transports = (options.transports ?? ['websocket', 'sse', 'poll']).map((transport) => {
      if (typeof transport !== 'string') return transport;
      const factory = BUILT_IN_TRANSPORTS[transport];
      if (!factory) throw new Error(`unknown transport "${transport}"`);
      return factory;
    });
    if (this.transports.length === 0) throw new Error('at least one transport is required');
    this.environment = options.environment !== undefined ? options.environment : defaultEnvironment();
    this.token = options.getToken ? undefined : options.token ?? null;
    this.instanceId = randomId(this.random);
    this.currentState = { status: 'disconnected', transport: null, reason: 'not connected yet' };
    const slot = () => new TimerSlot(this.timers);
    this.reconnectTimer = slot();
    this.openTimer = slot();
    this.stableTimer = slot();
    this.watchdogTimer = slot();
    this.refreshTimer = slot();
    this.probeTimer = slot();
    this.probeOpenTimer = slot();
    this.ackRetryTimer = slot();
    this.ackQueue = new AckQueue(options.maxQueuedAcks ?? 10000);
    if (options.autoConnect ?? true) this.connect();
  }

  // ---- public API ----

  get state(): ConnectionState {
    return this.currentState;
  }

  get stats(): ClientStats {
    let duplicatesDropped = 0;
    let gapsSeen = this.statsCounters.gapsOfDropped;
    for (const entry of this.channels.values()) {
      duplicatesDropped += entry.duplicatesDropped;
      gapsSeen += entry.gapsSeen;
    }
    return {
      connects: this.statsCounters.connects,
      transportSwitches: this.statsCounters.transportSwitches,
      duplicatesDropped: duplicatesDropped + this.statsCounters.droppedEntries,
      gapsSeen,
      resets: this.statsCounters.resets,
      refreshes: this.statsCounters.refreshes,
      acksSent: this.statsCounters.acksSent,
      acksDropped: this.ackQueue.dropped,
    };
  }

  /** Starts connecting (done by the constructor unless `autoConnect: false`); a no-op while already running. */
  connect(): void {
    if (this.closed) throw new ClientClosedError();
    if (this.running) return;
    this.running = true;
    this.attempt = 0;
    this.attachEnvironment();
    void this.startAttempt();
  }

  /** Drops the connection but keeps subscriptions and queued publishes; `connect()` resumes from the positions. */
  disconnect(): void {
    if (!this.running) return;
    this.halt();
    this.setState({ status: 'disconnected', transport: null, reason: 'disconnected by the application' });
  }

  private halt(): void {
    this.running = false;
    this.generation++;
    this.dropLink();
    this.cancelTimers();
    this.detachEnvironment();
  }

  /** Ends the client for good: no socket, request, timer or listener is left behind. Pending publishes reject. */
  close(): void {
    if (this.closed) return;
    this.halt();
    this.closed = true;
    this.publishQueue.rejectAll(new ClientClosedError());
    this.ackQueue.rejectAll(new ClientClosedError());
    for (const entry of this.channels.values()) {
      entry.setState('unsubscribed');
      entry.listeners.clear();
    }
    this.channels.clear();
    this.setState({ status: 'disconnected', transport: null, reason: 'client closed' });
    this.events.clear();
  }

  on(event: 'state', listener: (state: ConnectionState) => void): () => void;
  on(event: 'error', listener: (error: unknown) => void): () => void;
  on(event: 'reset', listener: (reset: ResetEvent) => void): () => void;
  on(event: ClientEvent, listener: (value: never) => void): () => void {
    return this.events.on(event, listener);
  }

  subscribe(channel: string, options: SubscribeOptions = {}): Subscription {
    if (this.closed) throw new ClientClosedError();
    let entry = this.channels.get(channel);
    const fresh = !entry;
    if (!entry) {
      entry = new ChannelEntry(channel, options.since ?? null, options.token ?? null, this.log, (error) =>
        this.emit('error', error),
      );
      this.channels.set(channel, entry);
    }
    const listener: SubscriptionListener = {
      onPublication: options.onPublication,
      onState: options.onState,
      onReset: (reset) => {
        options.onReset?.(reset);
      },
      onError: options.onError,
      onPresence: options.onPresence,
      onSignal: options.onSignal,
      onReceipt: options.onReceipt,
    };
    entry.listeners.add(listener);
    if (fresh && typeof options.maxRate === 'number') entry.maxRate = options.maxRate;
    if (fresh) {
      const link = this.link;
      if (link?.connected) this.sendSubscribe(link, entry);
    } else if (entry.state === 'failed' && entry.retryOnReconnect === false) {
      // A new listener on a refused channel learns why right away instead of waiting forever.
      options.onState?.('failed');
    }
    const owner = entry;
    let released = false;
    return {
      channel,
      get state() {
        return released ? 'unsubscribed' : owner.state;
      },
      get position() {
        return owner.position; // frozen, and the same object until the next publication
      },
      get presence() {
        return owner.presence;
      },
      unsubscribe: () => {
        if (released) return;
        released = true;
        this.release(owner, listener);
      },
    };
  }

  /** Resolves with the publication's position once the server stored it; held in the offline queue meanwhile. */
  publish(channel: string, data: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    if (this.closed) return Promise.reject(new ClientClosedError());
    return new Promise<PublishResult>((resolve, reject) => {
      const item: QueuedPublish = {
        channel,
        data,
        idempotencyKey: options.idempotencyKey ?? `${this.instanceId}-${++this.publishCounter}`,
        ...(options.key !== undefined ? { key: options.key } : {}),
        ...(options.priority !== undefined ? { priority: options.priority } : {}),
        ...(options.receipts ? { receipts: true } : {}),
        resolve,
        reject,
      };
      const state = this.currentState;
      if (!this.running && state.status === 'disconnected' && state.code !== undefined) {
        // The server said not to come back (protocol §6): queueing would hold this publish forever.
        reject(new ClientClosedError(`disconnected: ${state.reason} (${state.code})`));
        return;
      }
      const link = this.link;
      if (link?.connected && this.publishQueue.isEmpty) {
        this.sendPublish(link, item);
        return;
      }
      const limit = this.options.maxQueuedPublishes ?? 1000;
      if (!this.publishQueue.offer(item, limit)) reject(new PublishQueueFullError(limit));
    });
  }

  /** Sends an ephemeral signal to the channel's subscribers (you must be subscribed). Not queued while offline. */
  signal(channel: string, type: string, data?: unknown): Promise<{ coalesced: boolean }> {
    return this.request('signal', { cmd: 'signal', channel, type, ...(data !== undefined ? { data } : {}) }).then((result) => ({
      coalesced: result.coalesced === true,
    }));
  }

  /** One page of a presence channel's members (the subscription's `presence` keeps the whole list current). */
  presence(channel: string, options: { cursor?: string; limit?: number } = {}): Promise<PresencePage> {
    const command: Command = { cmd: 'presence', channel };
    if (options.cursor !== undefined) command.cursor = options.cursor;
    if (options.limit !== undefined) command.limit = options.limit;
    return this.request('presence', command).then((result) => ({
      channel: String(result.channel ?? channel),
      clients: Number(result.clients ?? 0),
      users: Number(result.users ?? 0),
      members: (Array.isArray(result.members) ? result.members : []) as PresenceMember[],
      ...(typeof result.next === 'string' ? { next: result.next } : {}),
    }));
  }

  /**
   * Marks a publication read for its publisher (protocol.md §4.11). Queued like a publish while offline and sent
   * again if the link drops before the answer (the server ignores repeats); resolves once the server recorded it,
   * rejects with its refusal (`134`: no receipts were asked, or the publication left the history).
   */
  markRead(channel: string, offset: number): Promise<void> {
    if (this.closed) return Promise.reject(new ClientClosedError());
    const state = this.currentState;
    if (!this.running && state.status === 'disconnected' && state.code !== undefined) {
      return Promise.reject(new ClientClosedError(`disconnected: ${state.reason} (${state.code})`));
    }
    return new Promise<void>((resolve, reject) => this.queueAck(channel, offset, 'read', { resolve, reject }));
  }

  /** The receipt record of one of your publications (only its publisher may ask). Needs a connection. */
  receipts(channel: string, offset: number): Promise<ReceiptRecord> {
    return this.request('receipts', { cmd: 'receipts', channel, offset }).then((result) => ({
      channel: String(result.channel ?? channel),
      offset: Number(result.offset ?? offset),
      recipients: (Array.isArray(result.recipients) ? result.recipients : []) as ReceiptRecord['recipients'],
      total: Number(result.total ?? 0),
      delivered: Number(result.delivered ?? 0),
      read: Number(result.read ?? 0),
      truncated: result.truncated === true,
    }));
  }

  private queueAck(channel: string, offset: number, status: AckStatus, waiter?: { resolve(): void; reject(error: Error): void }): void {
    this.ackQueue.add({ channel, offset, status, waiters: waiter ? [waiter] : [] });
    const link = this.link;
    if (link?.connected) this.flushAcks(link);
  }

  private flushAcks(link: Link): void {
    for (const ack of this.ackQueue.takeAll()) this.sendAck(link, ack);
  }

  private sendAck(link: Link, ack: PendingAck): void {
    const command: Command = { cmd: 'ack', channel: ack.channel, offset: ack.offset };
    if (ack.status === 'read') command.status = 'read';
    this.sendCommand(link, command, {
      onReply: (reply) => {
        if (!reply.error) {
          this.statsCounters.acksSent++;
          for (const waiter of ack.waiters) waiter.resolve();
          return;
        }
        if (reply.error.code === ErrorCode.rateLimited || reply.error.code === ErrorCode.internalError) {
          // Worth another try: back into the queue, sent again a second later (or on the next connect).
          this.ackQueue.add(ack);
          this.ackRetryTimer.arm(1000, () => {
            if (this.link?.connected) this.flushAcks(this.link);
          });
          return;
        }
        // 134 (the publication left the history, or asked no receipts), 101 (anonymous): final.
        this.log('ack refused', { channel: ack.channel, offset: ack.offset, error: reply.error });
        const error = new SwitchboardError(reply.error);
        for (const waiter of ack.waiters) waiter.reject(error);
      },
      // The server may or may not have recorded it; repeating an ack changes nothing, so send it again.
      onLost: () => this.lostAcks?.push(ack),
    });
  }

  /** A command that only makes sense on a live connection: answered, refused, or failed if the link drops. */
  private request(what: string, command: Command): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new ClientClosedError());
    const link = this.link;
    if (!link?.connected) return Promise.reject(new NotConnectedError(what));
    return new Promise((resolve, reject) => {
      this.sendCommand(link, command, {
        onReply: (reply) => (reply.error ? reject(new SwitchboardError(reply.error)) : resolve(reply.result ?? {})),
        onLost: () => reject(new NotConnectedError(what)),
      });
    });
  }

  private fetchPresencePages(link: Link, entry: ChannelEntry, cursor: string): void {
    this.sendCommand(link, { cmd: 'presence', channel: entry.channel, cursor, limit: 1000 }, {
      onReply: (reply) => {
        if (reply.error || this.channels.get(entry.channel) !== entry || link !== this.link) return;
        const page = reply.result ?? {};
        entry.applyPresencePage(page, false);
        if (typeof page.next === 'string') this.fetchPresencePages(link, entry, page.next);
      },
      onLost: () => {},
    });
  }

  // ---- connection lifecycle ----

  private get currentTransportName(): TransportName {
    return this.transports[this.transportIndex].name;
  }

  private async startAttempt(): Promise<void> {
    const generation = ++this.generation;
    if (this.attempt === 0) {
      this.setState({ status: 'connecting', transport: this.currentTransportName, attempt: 0 });
    } else {
      this.setState({
        status: 'reconnecting',
        transport: this.currentTransportName,
        attempt: this.attempt,
        nextRetryMs: 0,
        reason: this.reconnectReason,
      });
    }
    let token: string | null;
    try {
      token = await this.resolveToken();
    } catch (error) {
      if (generation !== this.generation) return;
      this.log('getToken failed', String(error));
      this.emit('error', error);
      this.scheduleReconnect(`getToken failed: ${String(error)}`);
      return;
    }
    if (generation !== this.generation) return;

    const factory = this.transports[this.transportIndex];
    const transport = factory.create(this.transportContext());
    const link = new Link(transport, factory.name);
    this.link = link;
    this.log('opening', { transport: factory.name, attempt: this.attempt });
    this.openTimer.arm(this.options.openTimeoutMs ?? 10000, () =>
      this.onLinkClosed(link, { code: 1006, reason: `no connect reply within ${this.options.openTimeoutMs ?? 10000} ms` }),
    );
    transport.open({
      onOpen: () => {
        if (link !== this.link) return;
        const connect: Command = { cmd: 'connect' };
        if (token) connect.token = token;
        if (this.options.info !== undefined) connect.info = this.options.info;
        // Harmless on SSE and long-poll, which deliver one message per event or a list anyway.
        if (this.options.batchFrames ?? true) connect.batch = true;
        this.sendCommand(link, connect, {
          onReply: (reply) => this.onConnectReply(link, reply),
          onLost: () => {},
        });
      },
      onMessage: (message) => {
        if (link === this.link) this.onMessage(link, message);
      },
      onActivity: () => {
        if (link === this.link && link.connected) this.armWatchdog(link);
      },
      onClose: (event) => this.onLinkClosed(link, event),
    });
  }

  private reconnectReason = '';

  private onConnectReply(link: Link, reply: Reply): void {
    if (reply.error) {
      this.log('connect refused', reply.error);
      if (isTokenError(reply.error.code)) this.token = undefined;
      // The server closes the connection next (4501/4502/4004); that close decides what happens.
      return;
    }
    const result = reply.result ?? {};
    link.connected = true;
    link.clientId = String(result.client ?? '');
    link.user = typeof result.user === 'string' ? result.user : undefined;
    if (typeof result.ping === 'number' && result.ping > 0) link.pingIntervalMs = result.ping;
    this.openTimer.cancel();
    this.failuresOnTransport = 0;
    this.statsCounters.connects++;
    this.setState({
      status: 'connected',
      transport: link.transportName,
      clientId: link.clientId,
      ...(typeof result.user === 'string' ? { user: result.user } : {}),
    });
    this.stableTimer.arm(this.options.stableAfterMs ?? 10000, () => {
      this.attempt = 0;
    });
    this.armWatchdog(link);
    this.scheduleProactiveRefresh(result.expires);
    for (const entry of this.channels.values()) {
      if (entry.wantsServerSubscription) this.sendSubscribe(link, entry);
    }
    for (const item of this.publishQueue.takeAll()) this.sendPublish(link, item);
    this.flushAcks(link);
    this.scheduleUpgradeProbe();
  }

  private onLinkClosed(link: Link, event: TransportCloseEvent): void {
    if (link !== this.link) return;
    const code = link.disconnect?.code ?? event.code;
    const reason = link.disconnect?.reason || event.reason || `closed with ${code}`;
    this.log('link closed', { transport: link.transportName, code, reason, connected: link.connected });
    this.dropLink();
    this.cancelTimers();

    const advice = adviceForCloseCode(code);
    if (!link.connected && advice === 'reconnect') this.countTransportFailure();
    if (advice === 'stop') {
      this.stopWith(code, reason);
      return;
    }
    if (advice === 'new-token') {
      this.token = undefined;
      if (!this.options.getToken) {
        this.stopWith(code, `${reason} (no getToken to obtain a new token)`);
        return;
      }
    }
    this.scheduleReconnect(reason);
  }

  private countTransportFailure(): void {
    this.failuresOnTransport++;
    if (this.transports.length < 2 || this.failuresOnTransport < (this.options.fallbackAfterFailures ?? 2)) return;
    const from = this.currentTransportName;
    // Wrapping around from the last transport matters when the server itself was down: every transport failed,
    // and the preferred one deserves the next chance.
    this.transportIndex = (this.transportIndex + 1) % this.transports.length;
    this.failuresOnTransport = 0;
    this.statsCounters.transportSwitches++;
    this.log('falling back', { from, to: this.currentTransportName });
  }

  private scheduleReconnect(reason: string): void {
    if (!this.running) return;
    this.attempt++;
    this.reconnectReason = reason;
    const delay = this.backoff.delayMs(this.attempt);
    this.setState({
      status: 'reconnecting',
      transport: this.currentTransportName,
      attempt: this.attempt,
      nextRetryMs: delay,
      reason,
    });
    this.reconnectTimer.arm(delay, () => void this.startAttempt());
  }

  private stopWith(code: number, reason: string): void {
    this.running = false;
    this.generation++;
    this.detachEnvironment();
    this.publishQueue.rejectAll(new ClientClosedError(`disconnected: ${reason} (${code})`));
    this.setState({ status: 'disconnected', transport: null, reason, code });
  }

  /** Ends the current link; commands in flight on it are handed back (publishes return to the queue's front). */
  private dropLink(): void {
    const link = this.link;
    if (!link) return;
    this.link = null;
    link.transport.close();
    const pending = [...link.pending.values()];
    link.pending.clear();
    // In-flight publishes go back ahead of the ones still queued, in the order they were sent.
    const lost: QueuedPublish[] = [];
    const lostAcks: PendingAck[] = [];
    this.lostPublishes = lost;
    this.lostAcks = lostAcks;
    for (const command of pending) command.onLost();
    this.lostPublishes = null;
    this.lostAcks = null;
    this.publishQueue.putBack(lost);
    for (const ack of lostAcks) this.ackQueue.add(ack);
    for (const entry of this.channels.values()) {
      entry.serverState = 'none';
      if (entry.state === 'subscribed') entry.setState('subscribing');
    }
    this.closeProbe();
  }

  private cancelTimers(): void {
    this.reconnectTimer.cancel();
    this.openTimer.cancel();
    this.stableTimer.cancel();
    this.watchdogTimer.cancel();
    this.refreshTimer.cancel();
    this.probeTimer.cancel();
    this.probeOpenTimer.cancel();
    this.ackRetryTimer.cancel();
  }

  private armWatchdog(link: Link): void {
    const quietMs = link.transportName === 'poll' ? this.options.pollTimeoutMs ?? 25000 : link.pingIntervalMs;
    this.watchdogTimer.arm(quietMs + (this.options.heartbeatGraceMs ?? 10000), () =>
      this.onLinkClosed(link, { code: 1006, reason: 'no heartbeat from the server' }),
    );
  }

  /** The browser came back online or the tab became visible: skip the rest of the backoff wait. */
  private retryNow = (): void => {
    const document = this.environment?.document;
    if (document && document.visibilityState && document.visibilityState !== 'visible') return;
    if (!this.running || !this.reconnectTimer.armed) return;
    this.log('retrying now (online or visible)');
    this.reconnectTimer.cancel();
    void this.startAttempt();
  };

  private attachEnvironment(): void {
    const environment = this.environment;
    if (!environment || this.environmentAttached) return;
    this.environmentAttached = true;
    environment.addEventListener('online', this.retryNow);
    environment.document?.addEventListener('visibilitychange', this.retryNow);
  }

  private detachEnvironment(): void {
    const environment = this.environment;
    if (!environment || !this.environmentAttached) return;
    this.environmentAttached = false;
    environment.removeEventListener('online', this.retryNow);
    environment.document?.removeEventListener('visibilitychange', this.retryNow);
  }

  // ---- messages and commands ----

  private onMessage(link: Link, message: ServerMessage): void {
    this.log('recv', summarize(message));
    if (isReply(message)) {
      const pending = link.pending.get(message.id);
      if (!pending) return;
      link.pending.delete(message.id);
      pending.onReply(message);
      return;
    }
    const push = message as Record<string, unknown>;
    switch (push.push) {
      case 'publication': {
        const entry = this.channels.get(String(push.channel));
        const publication: Publication = {
          channel: String(push.channel),
          epoch: String(push.epoch),
          offset: Number(push.offset),
          data: push.data,
          ...(typeof push.sender === 'string' ? { sender: push.sender } : {}),
          ...(typeof push.key === 'string' ? { key: push.key } : {}),
          ...(push.receipts === true ? { receipts: true } : {}),
        };
        const delivered = entry?.applyPublication(publication) ?? false;
        // Delivery receipts are automatic, live or recovered alike. The publisher is not a recipient, and an
        // anonymous session cannot acknowledge (101).
        if (delivered && publication.receipts && link.user !== undefined && publication.sender !== link.user) {
          this.queueAck(publication.channel, publication.offset, 'delivered');
        }
        break;
      }
      case 'receipt':
        this.channels.get(String(push.channel))?.applyReceipt({
          channel: String(push.channel),
          offset: Number(push.offset),
          user: String(push.user),
          status: push.status === 'read' ? 'read' : 'delivered',
        } as Receipt);
        break;
      case 'conflated':
        this.channels.get(String(push.channel))?.announceSkip();
        break;
      case 'join':
      case 'leave':
        this.channels.get(String(push.channel))?.applyJoinLeave(push.push, memberOf(push));
        break;
      case 'signal':
        this.channels.get(String(push.channel))?.applySignal({
          channel: String(push.channel),
          type: String(push.type),
          ...memberOf(push),
          ...(push.data !== undefined ? { data: push.data } : {}),
        });
        break;
      case 'ping':
        this.sendRaw(link, { cmd: 'pong' });
        break;
      case 'refresh':
        void this.refreshToken();
        break;
      case 'disconnect':
        link.disconnect = { code: Number(push.code), reason: String(push.reason ?? '') };
        break;
      case 'error':
        this.emit('error', new SwitchboardError(push.error as { code: number; name: string; reason: string }));
        break;
      default:
        // `session` is consumed by the SSE transport; unknown pushes are ignored (protocol.md §1).
        break;
    }
  }

  private sendCommand(link: Link, command: Command, pending: PendingCommand): void {
    const id = this.nextCommandId++;
    link.pending.set(id, pending);
    this.sendRaw(link, { ...command, id });
  }

  /** Commands issued in one turn of the event loop leave together (one POST on SSE and poll). */
  private sendRaw(link: Link, command: Command): void {
    this.log('send', summarize(command));
    link.outbox.push(command);
    if (link.outbox.length > 1) return;
    void Promise.resolve().then(() => {
      const batch = link.outbox;
      link.outbox = [];
      if (link === this.link) link.transport.send(batch);
    });
  }

  private sendSubscribe(link: Link, entry: ChannelEntry): void {
    const since = entry.position ? { ...entry.position } : null;
    entry.serverState = 'pending';
    entry.setState('subscribing');
    const command: Command = { cmd: 'subscribe', channel: entry.channel };
    if (since) command.since = since;
    if (entry.subscriptionToken) command.token = entry.subscriptionToken;
    if (entry.maxRate !== undefined) command.maxRate = entry.maxRate;
    this.sendCommand(link, command, {
      onReply: (reply) => {
        if (this.channels.get(entry.channel) !== entry) return; // released meanwhile; its unsubscribe follows
        if (reply.error) {
          entry.applyError(reply.error);
          return;
        }
        const result = reply.result ?? {};
        if (since && result.recovered === false) {
          this.statsCounters.resets++;
          this.emit('reset', {
            channel: entry.channel,
            epoch: String(result.epoch),
            offset: Number(result.offset),
            reason: String(result.reason ?? ''),
          });
        }
        entry.applySubscribed(result, since);
        const snapshot = result.presence as { next?: unknown } | undefined;
        if (snapshot && typeof snapshot === 'object') {
          entry.applyPresencePage(snapshot, true);
          if (typeof snapshot.next === 'string') this.fetchPresencePages(link, entry, snapshot.next);
        }
      },
      onLost: () => {},
    });
  }

  private release(entry: ChannelEntry, listener: SubscriptionListener): void {
    if (!entry.listeners.delete(listener)) return;
    try {
      listener.onState?.('unsubscribed');
    } catch (error) {
      this.emit('error', error);
    }
    if (entry.listeners.size > 0 || this.channels.get(entry.channel) !== entry) return;
    this.channels.delete(entry.channel);
    this.statsCounters.droppedEntries += entry.duplicatesDropped;
    this.statsCounters.gapsOfDropped += entry.gapsSeen;
    entry.state = 'unsubscribed';
    const link = this.link;
    if (link?.connected && entry.serverState !== 'none') {
      // Commands run in order, so this lands after a subscribe still in flight; a 109 answer is harmless.
      this.sendCommand(link, { cmd: 'unsubscribe', channel: entry.channel }, { onReply: () => {}, onLost: () => {} });
    }
    entry.serverState = 'none';
  }

  private sendPublish(link: Link, item: QueuedPublish): void {
    this.sendCommand(
      link,
      {
        cmd: 'publish',
        channel: item.channel,
        data: item.data,
        idempotencyKey: item.idempotencyKey,
        ...(item.key !== undefined ? { key: item.key } : {}),
        ...(item.priority !== undefined ? { priority: item.priority } : {}),
        ...(item.receipts ? { receipts: true } : {}),
      },
      {
        onReply: (reply) => {
          if (reply.error) item.reject(new SwitchboardError(reply.error));
          else {
            const result = reply.result ?? {};
            item.resolve({ channel: String(result.channel), epoch: String(result.epoch), offset: Number(result.offset) });
          }
        },
        // Ambiguous: the server may have stored it. It is resent with the same key, which the server deduplicates.
        onLost: () => this.lostPublishes?.push(item),
      },
    );
  }

  // ---- tokens ----

  private async resolveToken(): Promise<string | null> {
    if (this.token !== undefined) return this.token;
    const getToken = this.options.getToken;
    this.token = getToken ? (await getToken()) ?? null : this.options.token ?? null;
    return this.token;
  }

  private scheduleProactiveRefresh(expires: unknown): void {
    if (!this.options.getToken || typeof expires !== 'number') return;
    if (this.options.proactiveRefresh === false) return;
    const delay = refreshDelayMs(expires, this.timers.now(), this.token, this.options.refreshBeforeExpiryMs ?? 15000);
    this.refreshTimer.arm(delay, () => void this.refreshToken());
  }

  private async refreshToken(): Promise<void> {
    const getToken = this.options.getToken;
    if (!getToken || this.refreshing) return;
    this.refreshing = true;
    const generation = this.generation;
    try {
      const token = (await getToken()) ?? null;
      if (generation !== this.generation || !this.running) return;
      this.token = token;
      const link = this.link;
      if (!link?.connected || !token) return;
      this.log('refreshing token in band');
      this.sendCommand(link, { cmd: 'refresh', token }, {
        onReply: (reply) => {
          if (reply.error) {
            this.log('refresh refused', reply.error);
            if (isTokenError(reply.error.code)) this.token = undefined;
            this.emit('error', new SwitchboardError(reply.error));
            return;
          }
          this.statsCounters.refreshes++;
          if (link === this.link) this.scheduleProactiveRefresh(reply.result?.expires);
        },
        onLost: () => {},
      });
    } catch (error) {
      this.log('getToken failed during refresh', String(error));
      this.emit('error', error);
    } finally {
      this.refreshing = false;
    }
  }

  // ---- transport upgrade probing ----

  /**
   * The first probe after connecting on a fallback transport comes early: when the server itself was down, every
   * transport failed and the client may have fallen back for no network reason, so it should not sit on long-polling
   * for a whole probe period. A truly blocked transport costs one failed probe.
   */
  private scheduleUpgradeProbe(first = true): void {
    const every = this.options.upgradeProbeMs ?? 60000;
    if (this.transportIndex === 0 || every <= 0) return;
    this.probeTimer.arm(first ? Math.min(every, 2000) : every, () => this.runProbe(0));
  }

  /** Opens a preferred transport on the side; if it opens, the client moves over (positions make that lossless). */
  private runProbe(index: number): void {
    const link = this.link;
    if (!link?.connected) return;
    if (index >= this.transportIndex) {
      this.scheduleUpgradeProbe(false);
      return;
    }
    const factory = this.transports[index];
    const probe = factory.create(this.transportContext());
    this.probe = probe;
    let settled = false;
    const settle = (opened: boolean) => {
      if (settled) return;
      settled = true;
      this.probeOpenTimer.cancel();
      probe.close();
      if (this.probe === probe) this.probe = null;
      if (this.link !== link) return;
      if (!opened) {
        this.runProbe(index + 1);
        return;
      }
      this.log('upgrading transport', { from: link.transportName, to: factory.name });
      this.statsCounters.transportSwitches++;
      this.transportIndex = index;
      this.failuresOnTransport = 0;
      this.dropLink();
      this.cancelTimers();
      void this.startAttempt();
    };
    this.probeOpenTimer.arm(this.options.openTimeoutMs ?? 10000, () => settle(false));
    probe.open({
      onOpen: () => settle(true),
      onMessage: () => {},
      onActivity: () => {},
      onClose: () => settle(false),
    });
  }

  private closeProbe(): void {
    if (!this.probe) return;
    this.probe.close();
    this.probe = null;
    this.probeOpenTimer.cancel();
  }

  // ---- helpers ----

  private transportContext(): TransportContext {
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

  private setState(state: ConnectionState): void {
    this.currentState = state;
    this.log('state', state);
    this.emit('state', state);
  }

  private emit(event: ClientEvent, value: unknown): void {
    this.events.emit(event, value);
  }
}


function memberOf(push: Record<string, unknown>): PresenceMember & { client: string } {
  return {
    client: String(push.client),
    ...(typeof push.user === 'string' ? { user: push.user } : {}),
    ...(push.info !== undefined ? { info: push.info } : {}),
  };
}

function defaultEnvironment(): ClientEnvironment | null {
  const scope = globalThis as unknown as Partial<ClientEnvironment> & { document?: ClientEnvironment['document'] };
  if (typeof scope.addEventListener !== 'function' || typeof scope.removeEventListener !== 'function') return null;
  return scope as ClientEnvironment;
}

function randomId(random: () => number): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  const bytes = new Uint8Array(12);
  const cryptoApi = (globalThis as { crypto?: { getRandomValues?(array: Uint8Array): Uint8Array } }).crypto;
  if (cryptoApi?.getRandomValues) cryptoApi.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  let id = '';
  for (const byte of bytes) id += alphabet[byte % alphabet.length];
  return id;
}

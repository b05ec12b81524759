// The client's public face: `SwitchboardClient` keeps the public API and wires the parts that do the work together —
// connection.ts (lifecycle and backoff), transportChoice.ts (transport selection, upgrade probe), tokenKeeper.ts
// (token lifecycle), channels.ts (subscriptions), publisher.ts (publishes, offline queue, publish deadlines),
// ackSender.ts (receipt acks), notices.ts (the operator's notices). Time, randomness, the environment's
// online/visibility events and the transports are injected, so all of it runs against fake timers and a fake
// transport in tests.

import { AckSender } from './ackSender.js';
import { Channels } from './channels.js';
import { Connection } from './connection.js';
import { ClientClosedError, NotConnectedError } from './errors.js';
import { ClientEvents } from './events.js';
import type { Link } from './link.js';
import { makeLogger, summarize, type Logger } from './log.js';
import { NoticeReporter } from './notices.js';
import { isReply, SwitchboardError, type Command, type ServerMessage } from './protocol.js';
import { Publisher } from './publisher.js';
import { historyPageOf, presencePageOf, publicationOf, receiptRecordOf } from './pushes.js';
import type { ResetEvent } from './subscriptions.js';
import { realTimers } from './timers.js';
import { TokenKeeper } from './tokenKeeper.js';
import { TransportChoice, UpgradeProbe } from './transportChoice.js';
import type {
  ClientOptions,
  ClientStats,
  ConnectionState,
  HistoryOptions,
  HistoryPage,
  PresenceAndSignals,
  PresencePage,
  PublishOptions,
  PublishResult,
  ReceiptRecord,
  ServerNotice,
  SubscribeOptions,
  Subscription,
  SwitchboardClientLike,
} from './types.js';

export * from './types.js';
export { ClientClosedError, NotConnectedError, PublishQueueFullError, PublishTimeoutError, TokenTimeoutError } from './errors.js';

type ClientEvent = 'state' | 'error' | 'reset' | 'notice';

export class SwitchboardClient implements SwitchboardClientLike, PresenceAndSignals {
  private readonly log: Logger;
  private readonly events = new ClientEvents();
  private readonly transports: TransportChoice;
  private readonly probe: UpgradeProbe;
  private readonly tokens: TokenKeeper;
  private readonly channels: Channels;
  private readonly publisher: Publisher;
  private readonly acks: AckSender;
  private readonly connection: Connection;
  private readonly notices: NoticeReporter;
  private closed = false;

  constructor(options: ClientOptions) {
    const timers = options.timers ?? realTimers;
    const random = options.random ?? Math.random;
    const log = makeLogger(options.debug);
    const currentLink = (): Link | null => this.connection.current;
    const error = (value: unknown) => this.emit('error', value);
    this.log = log;
    this.notices = new NoticeReporter(log, (notice) => this.emit('notice', notice));
    this.transports = new TransportChoice(options, timers, log);
    this.tokens = new TokenKeeper(options, timers, log, { currentLink, runCheck: () => this.connection.runCheck(), error });
    this.channels = new Channels(log, { currentLink, error, reset: (reset) => this.emit('reset', reset) });
    this.publisher = new Publisher(options, timers, random);
    this.acks = new AckSender(options.maxQueuedAcks ?? 10000, timers, log, currentLink);
    this.probe = new UpgradeProbe(options, timers, log, this.transports, currentLink, () => this.connection.restart());
    this.connection = new Connection(options, timers, random, log, this.transports, this.tokens, {
      connected: (link) => {
        this.channels.resubscribe(link);
        this.publisher.flush(link);
        this.acks.flush(link);
        this.probe.schedule();
      },
      message: (link, message) => this.onMessage(link, message),
      dropped: () => {
        this.publisher.requeueLost();
        this.channels.linkDropped();
        this.probe.close();
      },
      cancelTimers: () => {
        this.tokens.cancelTimers();
        this.probe.cancelTimers();
        this.acks.cancelTimers();
      },
      stopped: (code, reason) => this.publisher.rejectAll(new ClientClosedError(`disconnected: ${reason} (${code})`)),
      state: (state) => this.emit('state', state),
      error,
    });
    if (options.autoConnect ?? true) this.connect();
  }

  // ---- public API ----

  get state(): ConnectionState {
    return this.connection.state;
  }

  get stats(): ClientStats {
    return {
      connects: this.connection.connects,
      transportSwitches: this.transports.switches,
      duplicatesDropped: this.channels.duplicatesDropped,
      gapsSeen: this.channels.gapsSeen,
      resets: this.channels.resets,
      refreshes: this.tokens.refreshes,
      acksSent: this.acks.sent,
      acksDropped: this.acks.dropped,
    };
  }

  /** Starts connecting (done by the constructor unless `autoConnect: false`); a no-op while already running. */
  connect(): void {
    if (this.closed) throw new ClientClosedError();
    this.connection.start();
  }

  /** Drops the connection but keeps subscriptions and queued publishes; `connect()` resumes from the positions. */
  disconnect(): void {
    if (!this.connection.running) return;
    this.connection.halt();
    this.connection.reportStopped('disconnected by the application');
  }

  /** Ends the client for good: no socket, request, timer or listener is left behind. Pending publishes reject. */
  close(): void {
    if (this.closed) return;
    this.connection.halt();
    this.closed = true;
    this.publisher.rejectAll(new ClientClosedError());
    this.acks.rejectAll(new ClientClosedError());
    this.channels.close();
    this.connection.reportStopped('client closed');
    this.events.clear();
  }

  on(event: 'state', listener: (state: ConnectionState) => void): () => void;
  on(event: 'error', listener: (error: unknown) => void): () => void;
  on(event: 'reset', listener: (reset: ResetEvent) => void): () => void;
  /** The operator's deprecation notice; without a listener it is logged once with console.warn. */
  on(event: 'notice', listener: (notice: ServerNotice) => void): () => void;
  on(event: ClientEvent, listener: (value: never) => void): () => void {
    if (event === 'notice') this.notices.listenerAdded();
    return this.events.on(event, listener);
  }

  subscribe<Data = unknown, Info = unknown>(channel: string, options: SubscribeOptions<Data, Info> = {}): Subscription<Info> {
    if (this.closed) throw new ClientClosedError();
    return this.channels.subscribe(channel, options as SubscribeOptions) as Subscription<Info>;
  }

  /** Resolves with the publication's position once the server stored it; held in the offline queue meanwhile. */
  publish<Data = unknown>(channel: string, data: Data, options: PublishOptions = {}): Promise<PublishResult> {
    if (this.closed) return Promise.reject(new ClientClosedError());
    return new Promise<PublishResult>((resolve, reject) => {
      const item = this.publisher.item(channel, data, options, resolve, reject);
      const refusal = this.stoppedByServer();
      // The server said not to come back (protocol §6): queueing would hold this publish forever.
      if (refusal) item.reject(refusal);
      else this.publisher.offer(item, this.connection.current);
    });
  }

  /** Sends an ephemeral signal to the channel's subscribers (you must be subscribed). Not queued while offline. */
  signal(channel: string, type: string, data?: unknown): Promise<{ coalesced: boolean }> {
    return this.request('signal', { cmd: 'signal', channel, type, ...(data !== undefined ? { data } : {}) }).then((result) => ({
      coalesced: result.coalesced === true,
    }));
  }

  /** One page of a presence channel's members (the subscription's `presence` keeps the whole list current). */
  presence<Info = unknown>(channel: string, options: { cursor?: string; limit?: number } = {}): Promise<PresencePage<Info>> {
    const command: Command = { cmd: 'presence', channel };
    if (options.cursor !== undefined) command.cursor = options.cursor;
    if (options.limit !== undefined) command.limit = options.limit;
    return this.request('presence', command).then((result) => presencePageOf(result, channel) as PresencePage<Info>);
  }

  /**
   * Marks a publication read for its publisher (protocol.md §4.11). Queued like a publish while offline and sent
   * again if the link drops before the answer (the server ignores repeats); resolves once the server recorded it,
   * rejects with its refusal (`134`: no receipts were asked, or the publication left the history).
   */
  markRead(channel: string, offset: number): Promise<void> {
    if (this.closed) return Promise.reject(new ClientClosedError());
    const refusal = this.stoppedByServer();
    if (refusal) return Promise.reject(refusal);
    return new Promise<void>((resolve, reject) => this.acks.add(channel, offset, 'read', { resolve, reject }));
  }

  /** The receipt record of one of your publications (only its publisher may ask). Needs a connection. */
  receipts(channel: string, offset: number): Promise<ReceiptRecord> {
    return this.request('receipts', { cmd: 'receipts', channel, offset }).then((result) => receiptRecordOf(result, channel, offset));
  }

  updatePresence(channel: string, info: unknown): Promise<void> {
    if (this.closed) return Promise.reject(new ClientClosedError());
    const connected = this.connection.current?.connected === true;
    return this.channels.updatePresence(channel, info ?? null, connected ? (command) => this.request('presence_update', command) : null);
  }

  history<Data = unknown>(channel: string, options: HistoryOptions = {}): Promise<HistoryPage<Data>> {
    const command: Command = { cmd: 'history', channel };
    if (options.limit !== undefined) command.limit = options.limit;
    if (options.since !== undefined) command.since = { epoch: options.since.epoch, offset: options.since.offset };
    if (options.before !== undefined) command.before = options.before;
    if (options.latest) command.latest = true;
    return this.request('history', command).then((result) => historyPageOf(result, channel) as HistoryPage<Data>);
  }

  /** The namespace's `signal_interval_ms` as the channel's subscribe reply told it (undefined before, or without signals). */
  signalIntervalMs(channel: string): number | undefined {
    return this.channels.signalIntervalMs(channel);
  }

  // ---- internals ----

  /** The error for new publishes and read marks once the server said not to come back, else null. */
  private stoppedByServer(): ClientClosedError | null {
    const state = this.connection.state;
    if (this.connection.running || state.status !== 'disconnected' || state.code === undefined) return null;
    return new ClientClosedError(`disconnected: ${state.reason} (${state.code})`);
  }

  /** A command that only makes sense on a live connection: answered, refused, or failed if the link drops. */
  private request(what: string, command: Command): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new ClientClosedError());
    const link = this.connection.current;
    if (!link?.connected) return Promise.reject(new NotConnectedError(what));
    return new Promise((resolve, reject) => {
      link.send(command, {
        onReply: (reply) => (reply.error ? reject(new SwitchboardError(reply.error)) : resolve(reply.result ?? {})),
        onLost: () => reject(new NotConnectedError(what)),
      });
    });
  }

  private onMessage(link: Link, message: ServerMessage): void {
    this.log('recv', summarize(message));
    if (isReply(message)) {
      link.answer(message);
      return;
    }
    const push = message as Record<string, unknown>;
    switch (push.push) {
      case 'publication': {
        const publication = publicationOf(push);
        const delivered = this.channels.applyPublication(publication);
        // Delivery receipts are automatic, live or recovered alike. The publisher is not a recipient, and an
        // anonymous session cannot acknowledge (101).
        if (delivered && publication.receipts && link.user !== undefined && publication.sender !== link.user) {
          this.acks.add(publication.channel, publication.offset, 'delivered');
        }
        break;
      }
      case 'ping':
        link.sendRaw({ cmd: 'pong' });
        break;
      case 'refresh':
        void this.tokens.refresh();
        break;
      case 'disconnect':
        link.disconnect = { code: Number(push.code), reason: String(push.reason ?? '') };
        break;
      case 'error':
        this.emit('error', new SwitchboardError(push.error as { code: number; name: string; reason: string }));
        break;
      case 'notice':
        this.notices.report(push);
        break;
      default:
        // receipt, conflated, join, leave, signal. `session` is consumed by the SSE transport; unknown pushes are
        // ignored (protocol.md §1).
        this.channels.applyPush(push);
        break;
    }
  }

  private emit(event: ClientEvent, value: unknown): void {
    this.events.emit(event, value);
  }
}

// The relay shared by both ways of holding one connection for many tabs: a leader tab (crossTab.ts, BroadcastChannel
// + Web Lock) or a SharedWorker (sharedWorker.ts). One side, `RelayHub`, runs the real client and acts for tabs; the
// other, `RelayedClient`, is the tab's client: it keeps its own listeners, positions and duplicate guard and talks to
// the hub with a tiny message set (subscribe / unsubscribe / publish / call from tabs; state / publication / reset /
// results from the hub). Only how messages travel differs between the two modes.

import {
  ClientClosedError,
  NotConnectedError,
  PublishQueueFullError,
  type ClientOptions,
  type ClientStats,
  type ConnectionState,
  type PublishOptions,
  type PublishResult,
  type PresenceAndSignals,
  type PresencePage,
  type ReceiptRecord,
  type SubscribeOptions,
  type Subscription,
  type SwitchboardClient,
  type SwitchboardClientLike,
} from './client.js';
import { SwitchboardError, type StreamPosition } from './protocol.js';
import type { PresenceState, Publication, Receipt, ResetEvent, Signal, SubscriptionListener, SubscriptionState } from './subscriptions.js';
import { makeLogger, type Logger } from './log.js';
import { ClientEvents } from './events.js';

export type RelayedChannel = { channel: string; since: StreamPosition | null; token: string | null; maxRate?: number };

export type TabMessage =
  | { type: 'leader'; tab: string }
  | { type: 'hello'; tab: string }
  | { type: 'sync'; tab: string; channels: RelayedChannel[] }
  | { type: 'subscribe'; tab: string; channel: string; since: StreamPosition | null; token: string | null; maxRate?: number }
  | { type: 'unsubscribe'; tab: string; channel: string }
  | { type: 'publish'; tab: string; request: number; channel: string; data: unknown; idempotencyKey: string; options: RelayedPublishOptions }
  | { type: 'bye'; tab: string }
  | { type: 'state'; state: ConnectionState }
  | { type: 'publication'; publication: Publication }
  | { type: 'presence'; channel: string; presence: PresenceState }
  | { type: 'signal'; signal: Signal }
  | { type: 'reset'; reset: ResetEvent }
  | { type: 'subscriptionState'; channel: string; state: SubscriptionState }
  | { type: 'subscriptionError'; channel: string; error: { code: number; name: string; reason: string } }
  | { type: 'published'; tab: string; request: number; result?: PublishResult; error?: { code?: number; name: string; message: string } }
  | { type: 'receipt'; receipt: Receipt }
  | { type: 'call'; tab: string; request: number; method: RelayedMethod; args: unknown[] }
  | { type: 'answered'; tab: string; request: number; result?: unknown; error?: { code?: number; name: string; message: string } };

/** Client methods a tab runs through the hub. */
export type RelayedMethod = 'signal' | 'presence' | 'markRead' | 'receipts';

/** Publish options the hub applies for a tab (the idempotency key travels on its own). */
export type RelayedPublishOptions = Pick<PublishOptions, 'key' | 'priority' | 'receipts'>;

/** Who a hub message is for: one tab, the tabs of a channel, or every tab (`null`). Transports may ignore it. */
export type Recipients = string | ReadonlySet<string> | null;

interface WaitingCall {
  method: RelayedMethod;
  args: unknown[];
  resolve(result: unknown): void;
  reject(error: Error): void;
}

interface TabEntry {
  channel: string;
  listeners: Set<SubscriptionListener>;
  position: StreamPosition | null;
  state: SubscriptionState;
  token: string | null;
  presence: PresenceState | null;
  maxRate?: number;
}

interface WaitingPublish {
  request: number;
  channel: string;
  data: unknown;
  idempotencyKey: string;
  options: RelayedPublishOptions;
  resolve(result: PublishResult): void;
  reject(error: Error): void;
}

/** Hub-side bookkeeping: the one real subscription per channel and which tabs want it. */
interface SharedSubscription {
  subscription: Subscription;
  tabs: Set<string>;
}

type ErrorLike = Error & { code?: number; reason?: string; errorName?: string };

/** Runs the real client for any number of tabs: one server subscription per channel, results routed back. */
export class RelayHub {
  private readonly shared = new Map<string, SharedSubscription>();
  private closing = false;

  constructor(
    readonly inner: SwitchboardClient,
    private readonly send: (message: TabMessage, to: Recipients) => void,
  ) {
    inner.on('state', (state) => this.send({ type: 'state', state }, null));
  }

  /** Tabs with at least one channel here (for tests and debugging). */
  get channels(): string[] {
    return [...this.shared.keys()];
  }

  /** Closes the real client; answers that only say "closed" are not sent (tabs re-send to the next hub). */
  close(): void {
    this.closing = true;
    this.inner.close();
  }

  handle(message: TabMessage): void {
    const inner = this.inner;
    if (this.closing) return;
    switch (message.type) {
      case 'hello':
        this.send({ type: 'state', state: inner.state }, message.tab);
        break;
      case 'sync':
        for (const item of message.channels) this.handle({ type: 'subscribe', tab: message.tab, ...item });
        break;
      case 'subscribe': {
        const existing = this.shared.get(message.channel);
        if (existing) {
          existing.tabs.add(message.tab);
          this.send({ type: 'subscriptionState', channel: message.channel, state: existing.subscription.state }, message.tab);
          const presence = existing.subscription.presence;
          if (presence) this.send({ type: 'presence', channel: message.channel, presence }, message.tab);
          break;
        }
        const channel = message.channel;
        // Created before subscribing: the subscription may report its state synchronously.
        const tabs = new Set([message.tab]);
        const subscription = inner.subscribe(channel, {
          since: message.since,
          token: message.token,
          ...(message.maxRate !== undefined ? { maxRate: message.maxRate } : {}),
          onPublication: (publication) => this.send({ type: 'publication', publication }, tabs),
          onReset: (reset) => this.send({ type: 'reset', reset }, tabs),
          onPresence: (presence) => this.send({ type: 'presence', channel, presence }, tabs),
          onSignal: (signal) => this.send({ type: 'signal', signal }, tabs),
          onReceipt: (receipt) => this.send({ type: 'receipt', receipt }, tabs),
          onState: (state) => this.send({ type: 'subscriptionState', channel, state }, tabs),
          onError: (error) =>
            this.send({ type: 'subscriptionError', channel, error: { code: error.code, name: error.errorName, reason: error.reason } }, tabs),
        });
        this.shared.set(channel, { subscription, tabs });
        break;
      }
      case 'unsubscribe':
        this.dropTabFrom(message.tab, message.channel);
        break;
      case 'call': {
        const method = inner[message.method] as (...args: unknown[]) => Promise<unknown>;
        method
          .apply(inner, message.args)
          .then(
            (result) => ({ type: 'answered', tab: message.tab, request: message.request, result }) as TabMessage,
            (error: ErrorLike) =>
              ({
                type: 'answered',
                tab: message.tab,
                request: message.request,
                error: { code: error.code, name: error.errorName ?? error.name, message: error.reason ?? error.message },
              }) as TabMessage,
          )
          .then((answer) => this.answer(answer, message.tab));
        break;
      }
      case 'bye':
        this.dropTab(message.tab);
        break;
      case 'publish':
        inner
          .publish(message.channel, message.data, { ...message.options, idempotencyKey: message.idempotencyKey })
          .then(
            (result) => ({ type: 'published', tab: message.tab, request: message.request, result }) as TabMessage,
            (error: ErrorLike) =>
              ({ type: 'published', tab: message.tab, request: message.request, error: { code: error.code, name: error.name, message: error.message } }) as TabMessage,
          )
          .then((answer) => this.answer(answer, message.tab));
        break;
      default:
        break;
    }
  }

  /** A tab left (closed, or its page died): release its share of every subscription. */
  dropTab(tab: string): void {
    for (const channel of [...this.shared.keys()]) this.dropTabFrom(tab, channel);
  }

  private answer(answer: TabMessage, tab: string): void {
    if (this.closing && (answer as { error?: { name: string } }).error?.name === 'ClientClosedError') return;
    this.send(answer, tab);
  }

  private dropTabFrom(tab: string, channel: string): void {
    const shared = this.shared.get(channel);
    if (!shared || !shared.tabs.delete(tab) || shared.tabs.size > 0) return;
    shared.subscription.unsubscribe();
    this.shared.delete(channel);
  }
}

/**
 * A tab's client whose connection lives elsewhere (a leader tab or a SharedWorker). Subclasses say how messages
 * reach the hub (`post`) and feed the hub's messages to `receive`.
 */
export abstract class RelayedClient implements SwitchboardClientLike, PresenceAndSignals {
  protected readonly tab = randomTabId();
  protected readonly log: Logger;
  protected readonly entries = new Map<string, TabEntry>();
  protected readonly waiting = new Map<number, WaitingPublish>();
  protected readonly waitingCalls = new Map<number, WaitingCall>();
  private readonly events = new ClientEvents();
  private nextRequest = 1;
  private publishCounter = 0;
  protected currentState: ConnectionState;
  protected closed = false;
  private localCounters = { duplicatesDropped: 0, gapsSeen: 0, resets: 0 };

  constructor(protected readonly options: ClientOptions, transport: 'tab' | 'worker') {
    this.log = makeLogger(options.debug);
    this.currentState = { status: 'connecting', transport, attempt: 0 };
  }

  /** Sends a message to the hub. */
  protected abstract post(message: TabMessage): void;
  /** The real client's counters when this tab can see them. */
  protected abstract innerStats(): ClientStats | null;
  /** Leaves the hub and releases what `close()` has not (ports, channels, locks). */
  protected abstract detach(): void;

  get state(): ConnectionState {
    return this.currentState;
  }

  get stats(): ClientStats {
    const base = this.innerStats() ?? { connects: 0, transportSwitches: 0, duplicatesDropped: 0, gapsSeen: 0, resets: 0, refreshes: 0, acksSent: 0, acksDropped: 0 };
    return {
      ...base,
      duplicatesDropped: this.localCounters.duplicatesDropped,
      gapsSeen: this.localCounters.gapsSeen,
      resets: this.localCounters.resets,
    };
  }

  abstract connect(): void;
  abstract disconnect(): void;

  on(event: 'state', listener: (state: ConnectionState) => void): () => void;
  on(event: 'error', listener: (error: unknown) => void): () => void;
  on(event: 'reset', listener: (reset: ResetEvent) => void): () => void;
  on(event: string, listener: (value: never) => void): () => void {
    return this.events.on(event, listener);
  }

  subscribe(channel: string, options: SubscribeOptions = {}): Subscription {
    if (this.closed) throw new ClientClosedError();
    let entry = this.entries.get(channel);
    const fresh = !entry;
    if (!entry) {
      entry = { channel, listeners: new Set(), position: options.since ? Object.freeze({ ...options.since }) : null, state: 'subscribing', token: options.token ?? null, presence: null, ...(options.maxRate !== undefined ? { maxRate: options.maxRate } : {}) };
      this.entries.set(channel, entry);
    }
    const listener: SubscriptionListener = {
      onPublication: options.onPublication,
      onState: options.onState,
      onReset: options.onReset,
      onError: options.onError,
      onPresence: options.onPresence,
      onSignal: options.onSignal,
      onReceipt: options.onReceipt,
    };
    entry.listeners.add(listener);
    if (fresh) this.post({ type: 'subscribe', tab: this.tab, channel, since: entry.position, token: entry.token, maxRate: entry.maxRate });
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
        owner.listeners.delete(listener);
        this.call(() => listener.onState?.('unsubscribed'));
        if (owner.listeners.size > 0 || this.entries.get(channel) !== owner) return;
        this.entries.delete(channel);
        this.post({ type: 'unsubscribe', tab: this.tab, channel });
      },
    };
  }

  publish(channel: string, data: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    if (this.closed) return Promise.reject(new ClientClosedError());
    const limit = this.options.maxQueuedPublishes ?? 1000;
    if (this.waiting.size >= limit) return Promise.reject(new PublishQueueFullError(limit));
    return new Promise((resolve, reject) => {
      const request = this.nextRequest++;
      const idempotencyKey = options.idempotencyKey ?? `${this.tab}-${++this.publishCounter}`;
      const relayed: RelayedPublishOptions = {
        ...(options.key !== undefined ? { key: options.key } : {}),
        ...(options.priority !== undefined ? { priority: options.priority } : {}),
        ...(options.receipts ? { receipts: true } : {}),
      };
      this.waiting.set(request, { request, channel, data, idempotencyKey, options: relayed, resolve, reject });
      this.post({ type: 'publish', tab: this.tab, request, channel, data, idempotencyKey, options: relayed });
    });
  }

  signal(channel: string, type: string, data?: unknown): Promise<{ coalesced: boolean }> {
    return this.relay('signal', [channel, type, data]) as Promise<{ coalesced: boolean }>;
  }

  presence(channel: string, options?: { cursor?: string; limit?: number }): Promise<PresencePage> {
    return this.relay('presence', [channel, options]) as Promise<PresencePage>;
  }

  markRead(channel: string, offset: number): Promise<void> {
    return this.relay('markRead', [channel, offset]) as Promise<void>;
  }

  receipts(channel: string, offset: number): Promise<ReceiptRecord> {
    return this.relay('receipts', [channel, offset]) as Promise<ReceiptRecord>;
  }

  /** Runs a client method in the hub, which holds the connection. */
  private relay(method: RelayedMethod, args: unknown[]): Promise<unknown> {
    if (this.closed) return Promise.reject(new ClientClosedError());
    return new Promise((resolve, reject) => {
      const request = this.nextRequest++;
      this.waitingCalls.set(request, { method, args, resolve, reject });
      this.post({ type: 'call', tab: this.tab, request, method, args });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const item of this.waiting.values()) item.reject(new ClientClosedError());
    this.waiting.clear();
    for (const item of this.waitingCalls.values()) item.reject(new ClientClosedError());
    this.waitingCalls.clear();
    for (const entry of this.entries.values()) for (const listener of entry.listeners) this.call(() => listener.onState?.('unsubscribed'));
    this.entries.clear();
    this.detach();
    this.events.clear();
  }

  /**
   * A new hub: tell it what this tab needs, re-send publishes it may not have completed (same idempotency keys, so
   * the server stores them once) and read marks; signals and queries were for the old connection and fail like they
   * do when the connection drops.
   */
  protected resync(): void {
    const channels = [...this.entries.values()].map((entry) => ({ channel: entry.channel, since: entry.position, token: entry.token, maxRate: entry.maxRate }));
    if (channels.length > 0) this.post({ type: 'sync', tab: this.tab, channels });
    for (const item of this.waiting.values()) {
      this.post({ type: 'publish', tab: this.tab, request: item.request, channel: item.channel, data: item.data, idempotencyKey: item.idempotencyKey, options: item.options });
    }
    for (const [request, item] of [...this.waitingCalls]) {
      if (item.method === 'markRead') {
        this.post({ type: 'call', tab: this.tab, request, method: item.method, args: item.args });
      } else {
        this.waitingCalls.delete(request);
        item.reject(new NotConnectedError(item.method));
      }
    }
  }

  /** Applies what the hub reports. */
  protected receive(message: TabMessage): void {
    if (this.closed) return;
    switch (message.type) {
      case 'receipt': {
        const entry = this.entries.get(message.receipt.channel);
        for (const listener of [...(entry?.listeners ?? [])]) this.call(() => listener.onReceipt?.(message.receipt));
        break;
      }
      case 'answered': {
        if (message.tab !== this.tab) break;
        const item = this.waitingCalls.get(message.request);
        if (!item) break;
        this.waitingCalls.delete(message.request);
        if (!message.error) item.resolve(message.result);
        else if (message.error.code !== undefined) {
          item.reject(new SwitchboardError({ code: message.error.code, name: message.error.name, reason: message.error.message }));
        } else if (message.error.name === 'NotConnectedError') item.reject(new NotConnectedError(item.method));
        else item.reject(new ClientClosedError(message.error.message));
        break;
      }
      case 'state':
        this.currentState = message.state;
        this.emit('state', message.state);
        break;
      case 'publication':
        this.deliver(message.publication);
        break;
      case 'presence': {
        const entry = this.entries.get(message.channel);
        if (!entry) break;
        entry.presence = message.presence;
        for (const listener of [...entry.listeners]) this.call(() => listener.onPresence?.(message.presence));
        break;
      }
      case 'signal': {
        const entry = this.entries.get(message.signal.channel);
        for (const listener of [...(entry?.listeners ?? [])]) this.call(() => listener.onSignal?.(message.signal));
        break;
      }
      case 'reset': {
        const entry = this.entries.get(message.reset.channel);
        if (!entry) break;
        entry.position = Object.freeze({ epoch: message.reset.epoch, offset: message.reset.offset });
        this.localCounters.resets++;
        this.emit('reset', message.reset);
        for (const listener of [...entry.listeners]) this.call(() => listener.onReset?.(message.reset));
        break;
      }
      case 'subscriptionState': {
        const entry = this.entries.get(message.channel);
        if (!entry || entry.state === message.state || message.state === 'unsubscribed') break;
        entry.state = message.state;
        for (const listener of [...entry.listeners]) this.call(() => listener.onState?.(message.state));
        break;
      }
      case 'subscriptionError': {
        const entry = this.entries.get(message.channel);
        if (!entry) break;
        entry.state = 'failed';
        const error = new SwitchboardError(message.error);
        for (const listener of [...entry.listeners]) this.call(() => listener.onError?.(error));
        break;
      }
      case 'published': {
        if (message.tab !== this.tab) break;
        const item = this.waiting.get(message.request);
        if (!item) break;
        this.waiting.delete(message.request);
        if (message.result) item.resolve(message.result);
        else if (message.error?.name === 'PublishQueueFullError') item.reject(new PublishQueueFullError(this.options.maxQueuedPublishes ?? 1000));
        else if (message.error?.code !== undefined) item.reject(new SwitchboardError({ code: message.error.code, name: message.error.name, reason: message.error.message }));
        else item.reject(new ClientClosedError(message.error?.message));
        break;
      }
      default:
        break;
    }
  }

  private deliver(publication: Publication): void {
    const entry = this.entries.get(publication.channel);
    if (!entry) return;
    const position = entry.position;
    if (position && position.epoch === publication.epoch) {
      if (publication.offset <= position.offset) {
        this.localCounters.duplicatesDropped++;
        return;
      }
      // A skip the server announced (conflation) is intended; any other jump is a hand-over gap.
      if (publication.offset > position.offset + 1 && !publication.afterSkip) {
        // Only possible across a hand-over when this tab lagged the tab whose position the new hub used. Never
        // silent: the app is told to reload, as for any reset.
        this.localCounters.gapsSeen++;
        const reset: ResetEvent = { channel: entry.channel, epoch: publication.epoch, offset: publication.offset - 1, reason: 'publications were missed during a tab hand-over' };
        this.localCounters.resets++;
        this.emit('reset', reset);
        for (const listener of [...entry.listeners]) this.call(() => listener.onReset?.(reset));
      }
    }
    entry.position = Object.freeze({ epoch: publication.epoch, offset: publication.offset });
    for (const listener of [...entry.listeners]) this.call(() => listener.onPublication?.(publication));
  }

  protected call(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.emit('error', error);
    }
  }

  protected emit(event: string, value: unknown): void {
    this.events.emit(event, value);
  }
}

export function randomTabId(): string {
  return `tab-${Math.random().toString(36).slice(2, 10)}${Date.now().toString(36)}`;
}

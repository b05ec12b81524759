// One connection for all tabs of an origin. Tabs elect a leader with a Web Lock (the lock is released when the
// leader tab closes or crashes, and the next waiting tab takes it: that is the hand-over). The leader runs the real
// client; every tab, the leader's own included, talks to it through a BroadcastChannel with a tiny message set:
// subscribe / unsubscribe / publish from tabs, state / publication / reset / publish results from the leader.
//
// Each tab keeps its own per-channel position and duplicate guard, so a hand-over that replays a publication is
// harmless, and a jump it cannot explain is reported as a reset instead of passing silently. Publishes waiting for
// a result are re-sent to a new leader with the same idempotency key, so the server stores them once.

import {
  ClientClosedError,
  NotConnectedError,
  PublishQueueFullError,
  SwitchboardClient,
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
  type SwitchboardClientLike,
} from './client.js';
import { SwitchboardError, type StreamPosition } from './protocol.js';
import type { PresenceState, Publication, Receipt, ResetEvent, Signal, SubscriptionListener, SubscriptionState } from './subscriptions.js';
import { makeLogger, type Logger } from './log.js';

/** The subset of `navigator.locks` used for the election. */
export interface TabLocks {
  request(name: string, callback: () => Promise<void>): Promise<unknown>;
}

/** The subset of `BroadcastChannel` used between tabs. */
export interface TabChannel {
  postMessage(message: unknown): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  close(): void;
}

export interface CrossTabOptions {
  locks?: TabLocks;
  openChannel?: (name: string) => TabChannel;
}

type TabMessage =
  | { type: 'leader'; tab: string }
  | { type: 'hello'; tab: string }
  | { type: 'sync'; tab: string; channels: Array<{ channel: string; since: StreamPosition | null; token: string | null; maxRate?: number }> }
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

/** Client methods a follower tab runs through the leader. */
type RelayedMethod = 'signal' | 'presence' | 'markRead' | 'receipts';

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

/** Publish options the leader applies for a tab (the idempotency key travels on its own). */
type RelayedPublishOptions = Pick<PublishOptions, 'key' | 'priority' | 'receipts'>;

interface WaitingPublish {
  request: number;
  channel: string;
  data: unknown;
  idempotencyKey: string;
  options: RelayedPublishOptions;
  resolve(result: PublishResult): void;
  reject(error: Error): void;
}

/** Leader-side bookkeeping: the one real subscription per channel and which tabs want it. */
interface SharedSubscription {
  subscription: Subscription;
  tabs: Set<string>;
}

export function crossTabAvailable(options: CrossTabOptions): boolean {
  const scope = globalThis as { navigator?: { locks?: TabLocks }; BroadcastChannel?: unknown };
  return Boolean((options.locks ?? scope.navigator?.locks) && (options.openChannel ?? scope.BroadcastChannel));
}

export class TabClient implements SwitchboardClientLike, PresenceAndSignals {
  private readonly tab = randomTabId();
  private readonly log: Logger;
  private readonly bus: TabChannel;
  private readonly entries = new Map<string, TabEntry>();
  private readonly waiting = new Map<number, WaitingPublish>();
  private readonly waitingCalls = new Map<number, WaitingCall>();
  private readonly listeners = new Map<string, Set<(value: unknown) => void>>();
  private nextRequest = 1;
  private publishCounter = 0;
  private currentState: ConnectionState = { status: 'connecting', transport: 'tab', attempt: 0 };
  private closed = false;
  private localCounters = { duplicatesDropped: 0, gapsSeen: 0, resets: 0 };

  // Leader only.
  private inner: SwitchboardClient | null = null;
  private readonly shared = new Map<string, SharedSubscription>();
  private releaseLock: (() => void) | null = null;
  private abdicating = false;

  constructor(private readonly options: ClientOptions & CrossTabOptions) {
    this.log = makeLogger(options.debug);
    const scope = globalThis as { navigator?: { locks?: TabLocks }; BroadcastChannel?: new (name: string) => TabChannel };
    const name = `switchboard:${options.url}`;
    this.bus = options.openChannel ? options.openChannel(name) : new (scope.BroadcastChannel as new (name: string) => TabChannel)(name);
    this.bus.onmessage = (event) => this.onBusMessage(event.data as TabMessage);
    // A tab that opens after the leader connected learns the connection state from the leader's answer.
    this.bus.postMessage({ type: 'hello', tab: this.tab });
    const locks = options.locks ?? (scope.navigator?.locks as TabLocks);
    void locks
      .request(name, () => {
        if (this.closed) return Promise.resolve();
        this.becomeLeader();
        return new Promise<void>((resolve) => (this.releaseLock = resolve));
      })
      .catch((error) => this.log('tab election failed', String(error)));
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  get isLeader(): boolean {
    return this.inner !== null;
  }

  get stats(): ClientStats {
    const base = this.inner?.stats ?? { connects: 0, transportSwitches: 0, duplicatesDropped: 0, gapsSeen: 0, resets: 0, refreshes: 0, acksSent: 0, acksDropped: 0 };
    return {
      ...base,
      duplicatesDropped: this.localCounters.duplicatesDropped,
      gapsSeen: this.localCounters.gapsSeen,
      resets: this.localCounters.resets,
    };
  }

  connect(): void {
    this.inner?.connect();
  }

  disconnect(): void {
    this.inner?.disconnect();
  }

  on(event: 'state', listener: (state: ConnectionState) => void): () => void;
  on(event: 'error', listener: (error: unknown) => void): () => void;
  on(event: 'reset', listener: (reset: ResetEvent) => void): () => void;
  on(event: string, listener: (value: never) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    const callback = listener as (value: unknown) => void;
    set.add(callback);
    return () => set?.delete(callback);
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
    if (fresh) this.send({ type: 'subscribe', tab: this.tab, channel, since: entry.position, token: entry.token, maxRate: entry.maxRate });
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
        this.send({ type: 'unsubscribe', tab: this.tab, channel });
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
      this.send({ type: 'publish', tab: this.tab, request, channel, data, idempotencyKey, options: relayed });
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

  /** Runs a client method in the leader tab, which holds the connection. */
  private relay(method: RelayedMethod, args: unknown[]): Promise<unknown> {
    if (this.closed) return Promise.reject(new ClientClosedError());
    return new Promise((resolve, reject) => {
      const request = this.nextRequest++;
      this.waitingCalls.set(request, { method, args, resolve, reject });
      this.send({ type: 'call', tab: this.tab, request, method, args });
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
    if (this.inner) {
      // Hand over: publishes still in flight for other tabs are not answered; those tabs re-send them to the next
      // leader with the same idempotency key.
      this.abdicating = true;
      this.inner.close();
      this.inner = null;
    } else {
      this.send({ type: 'bye', tab: this.tab });
    }
    this.releaseLock?.();
    this.releaseLock = null;
    this.bus.onmessage = null;
    this.bus.close();
    this.listeners.clear();
  }

  // ---- messaging ----

  /** Messages to the leader; the leader's own tab handles its messages directly (BroadcastChannel skips the sender). */
  private send(message: TabMessage): void {
    if (this.inner) this.lead(message);
    else this.bus.postMessage(message);
  }

  /** Messages from the leader to every tab, this one included. */
  private broadcast(message: TabMessage): void {
    this.bus.postMessage(message);
    this.follow(message);
  }

  private onBusMessage(message: TabMessage): void {
    if (this.closed) return;
    if (this.inner) this.lead(message);
    else this.follow(message);
  }

  private becomeLeader(): void {
    this.log('this tab leads the shared connection');
    const inner = new SwitchboardClient({ ...this.options, autoConnect: true });
    this.inner = inner;
    inner.on('state', (state) => this.broadcast({ type: 'state', state }));
    inner.on('error', (error) => this.emit('error', error));
    for (const entry of this.entries.values()) this.lead({ type: 'subscribe', tab: this.tab, channel: entry.channel, since: entry.position, token: entry.token, maxRate: entry.maxRate });
    for (const item of this.waiting.values()) {
      this.lead({ type: 'publish', tab: this.tab, request: item.request, channel: item.channel, data: item.data, idempotencyKey: item.idempotencyKey, options: item.options });
    }
    this.retryCallsAfterHandOver((message) => this.lead(message));
    this.bus.postMessage({ type: 'leader', tab: this.tab });
    this.follow({ type: 'state', state: inner.state });
  }

  /** Leader side: act for a tab. */
  private lead(message: TabMessage): void {
    const inner = this.inner;
    if (!inner) return;
    switch (message.type) {
      case 'hello':
        this.broadcast({ type: 'state', state: inner.state });
        break;
      case 'sync':
        for (const item of message.channels) this.lead({ type: 'subscribe', tab: message.tab, ...item });
        break;
      case 'subscribe': {
        const existing = this.shared.get(message.channel);
        if (existing) {
          existing.tabs.add(message.tab);
          this.broadcast({ type: 'subscriptionState', channel: message.channel, state: existing.subscription.state });
          const presence = existing.subscription.presence;
          if (presence) this.broadcast({ type: 'presence', channel: message.channel, presence });
          break;
        }
        const channel = message.channel;
        const subscription = inner.subscribe(channel, {
          since: message.since,
          token: message.token,
          ...(message.maxRate !== undefined ? { maxRate: message.maxRate } : {}),
          onPublication: (publication) => this.broadcast({ type: 'publication', publication }),
          onReset: (reset) => this.broadcast({ type: 'reset', reset }),
          onPresence: (presence) => this.broadcast({ type: 'presence', channel, presence }),
          onSignal: (signal) => this.broadcast({ type: 'signal', signal }),
          onReceipt: (receipt) => this.broadcast({ type: 'receipt', receipt }),
          onState: (state) => this.broadcast({ type: 'subscriptionState', channel, state }),
          onError: (error) =>
            this.broadcast({ type: 'subscriptionError', channel, error: { code: error.code, name: error.errorName, reason: error.reason } }),
        });
        this.shared.set(channel, { subscription, tabs: new Set([message.tab]) });
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
            (error: Error & { code?: number; reason?: string; errorName?: string }) =>
              ({
                type: 'answered',
                tab: message.tab,
                request: message.request,
                error: { code: error.code, name: error.errorName ?? error.name, message: error.reason ?? error.message },
              }) as TabMessage,
          )
          .then((answer) => {
            if (this.abdicating && (answer as { error?: { name: string } }).error?.name === 'ClientClosedError') return;
            this.broadcast(answer);
          });
        break;
      }
      case 'bye':
        for (const channel of [...this.shared.keys()]) this.dropTabFrom(message.tab, channel);
        break;
      case 'publish':
        inner
          .publish(message.channel, message.data, { ...message.options, idempotencyKey: message.idempotencyKey })
          .then(
            (result) => ({ type: 'published', tab: message.tab, request: message.request, result }) as TabMessage,
            (error: Error & { code?: number }) =>
              ({ type: 'published', tab: message.tab, request: message.request, error: { code: error.code, name: error.name, message: error.message } }) as TabMessage,
          )
          .then((answer) => {
            if (this.abdicating && (answer as { error?: { name: string } }).error?.name === 'ClientClosedError') return;
            this.broadcast(answer);
          });
        break;
      default:
        break;
    }
  }

  /**
   * A new leader: read marks are queued work and are sent to it again (acks are idempotent on the server); signals and
   * queries were for the old connection and fail like they do when the connection drops.
   */
  private retryCallsAfterHandOver(send: (message: TabMessage) => void): void {
    for (const [request, item] of [...this.waitingCalls]) {
      if (item.method === 'markRead') {
        send({ type: 'call', tab: this.tab, request, method: item.method, args: item.args });
      } else {
        this.waitingCalls.delete(request);
        item.reject(new NotConnectedError(item.method));
      }
    }
  }

  private dropTabFrom(tab: string, channel: string): void {
    const shared = this.shared.get(channel);
    if (!shared || !shared.tabs.delete(tab) || shared.tabs.size > 0) return;
    shared.subscription.unsubscribe();
    this.shared.delete(channel);
  }

  /** Every tab: apply what the leader reports. */
  private follow(message: TabMessage): void {
    switch (message.type) {
      case 'leader': {
        // A new leader: tell it what this tab needs, and re-send publishes it may not have completed.
        const channels = [...this.entries.values()].map((entry) => ({ channel: entry.channel, since: entry.position, token: entry.token, maxRate: entry.maxRate }));
        this.bus.postMessage({ type: 'sync', tab: this.tab, channels });
        for (const item of this.waiting.values()) {
          this.bus.postMessage({ type: 'publish', tab: this.tab, request: item.request, channel: item.channel, data: item.data, idempotencyKey: item.idempotencyKey, options: item.options });
        }
        this.retryCallsAfterHandOver((call) => this.bus.postMessage(call));
        break;
      }
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
        // Only possible across a hand-over when this tab lagged the tab whose position the new leader used. Never
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

  private call(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.emit('error', error);
    }
  }

  private emit(event: string, value: unknown): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        listener(value);
      } catch (error) {
        if (event !== 'error') this.emit('error', error);
      }
    }
  }
}

function randomTabId(): string {
  return `tab-${Math.random().toString(36).slice(2, 10)}${Date.now().toString(36)}`;
}

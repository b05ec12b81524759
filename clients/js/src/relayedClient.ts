// A tab's client whose connection lives elsewhere (a leader tab or a SharedWorker): it reaches the hub (relay.ts)
// with the relay's message set, keeps publishes and calls until the hub answers and re-sends them to a new hub; its
// channels (tabChannels.ts) keep their own listeners, positions and duplicate guard. Subclasses say how messages travel.

import {
  ClientClosedError,
  NotConnectedError,
  PublishQueueFullError,
  PublishTimeoutError,
  type ClientOptions,
  type ClientStats,
  type ConnectionState,
  type HistoryOptions,
  type HistoryPage,
  type PublishOptions,
  type PublishResult,
  type PresenceAndSignals,
  type PresencePage,
  type ReceiptRecord,
  type SubscribeOptions,
  type Subscription,
  type SwitchboardClientLike,
} from './client.js';
import { ClientEvents } from './events.js';
import { makeLogger, type Logger } from './log.js';
import { SwitchboardError } from './protocol.js';
import { realTimers } from './timers.js';
import type { RelayedMethod, RelayedPublishOptions, TabMessage } from './relay.js';
import type { ResetEvent } from './subscriptions.js';
import { TabChannels } from './tabChannels.js';

interface WaitingCall {
  method: RelayedMethod;
  args: unknown[];
  resolve(result: unknown): void;
  reject(error: Error): void;
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

/**
 * A tab's client whose connection lives elsewhere (a leader tab or a SharedWorker). Subclasses say how messages
 * reach the hub (`post`) and feed the hub's messages to `receive`.
 */
export abstract class RelayedClient implements SwitchboardClientLike, PresenceAndSignals {
  protected readonly tab = randomTabId();
  protected readonly log: Logger;
  private readonly channels: TabChannels;
  protected readonly waiting = new Map<number, WaitingPublish>();
  protected readonly waitingCalls = new Map<number, WaitingCall>();
  private readonly events = new ClientEvents();
  private nextRequest = 1;
  private publishCounter = 0;
  protected currentState: ConnectionState;
  protected closed = false;

  constructor(protected readonly options: ClientOptions, transport: 'tab' | 'worker') {
    this.log = makeLogger(options.debug);
    this.currentState = { status: 'connecting', transport, attempt: 0 };
    this.channels = new TabChannels({
      subscribe: (channel) => this.post({ type: 'subscribe', tab: this.tab, ...channel }),
      unsubscribe: (channel) => this.post({ type: 'unsubscribe', tab: this.tab, channel }),
      call: (callback) => this.call(callback),
      reset: (reset) => this.emit('reset', reset),
    });
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
      duplicatesDropped: this.channels.counters.duplicatesDropped,
      gapsSeen: this.channels.counters.gapsSeen,
      resets: this.channels.counters.resets,
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

  subscribe<Data = unknown, Info = unknown>(channel: string, options: SubscribeOptions<Data, Info> = {}): Subscription<Info> {
    if (this.closed) throw new ClientClosedError();
    return this.channels.subscribe(channel, options as SubscribeOptions) as Subscription<Info>;
  }

  publish<Data = unknown>(channel: string, data: Data, options: PublishOptions = {}): Promise<PublishResult> {
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
      const timeoutMs = options.timeoutMs ?? this.options.publishTimeoutMs ?? 0;
      const timers = this.options.timers ?? realTimers;
      const timer =
        timeoutMs > 0
          ? timers.setTimeout(() => {
              if (!this.waiting.delete(request)) return;
              // The hub may have sent it already: it may still be stored (its answer is ignored now).
              reject(new PublishTimeoutError(timeoutMs, true));
            }, timeoutMs)
          : null;
      const clear = () => {
        if (timer !== null) timers.clearTimeout(timer);
      };
      this.waiting.set(request, {
        request,
        channel,
        data,
        idempotencyKey,
        options: relayed,
        resolve: (result) => (clear(), resolve(result)),
        reject: (error) => (clear(), reject(error)),
      });
      this.post({ type: 'publish', tab: this.tab, request, channel, data, idempotencyKey, options: relayed });
    });
  }

  signal(channel: string, type: string, data?: unknown): Promise<{ coalesced: boolean }> {
    return this.relay('signal', [channel, type, data]) as Promise<{ coalesced: boolean }>;
  }

  presence<Info = unknown>(channel: string, options?: { cursor?: string; limit?: number }): Promise<PresencePage<Info>> {
    return this.relay('presence', [channel, options]) as Promise<PresencePage<Info>>;
  }

  markRead(channel: string, offset: number): Promise<void> {
    return this.relay('markRead', [channel, offset]) as Promise<void>;
  }

  receipts(channel: string, offset: number): Promise<ReceiptRecord> {
    return this.relay('receipts', [channel, offset]) as Promise<ReceiptRecord>;
  }

  updatePresence(channel: string, info: unknown): Promise<void> {
    return this.relay('updatePresence', [channel, info]) as Promise<void>;
  }

  history<Data = unknown>(channel: string, options?: HistoryOptions): Promise<HistoryPage<Data>> {
    return this.relay('history', [channel, options]) as Promise<HistoryPage<Data>>;
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
    this.channels.close();
    this.detach();
    this.events.clear();
  }

  /**
   * A new hub: tell it what this tab needs, re-send publishes it may not have completed (same idempotency keys, so
   * the server stores them once) and read marks; signals and queries were for the old connection and fail like they
   * do when the connection drops.
   */
  protected resync(): void {
    const channels = this.channels.list();
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
        this.channels.receive(message);
        break;
    }
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

// The client a provider owns, created during render but started only from an effect.
//
// React may call a component's render (and a `useState` initializer) and throw the result away: StrictMode does it on
// purpose, concurrent rendering may, and server rendering never runs effects at all. A client built there that opens a
// BroadcastChannel, asks for a Web Lock or a SharedWorker, or connects would leak. So the provider holds this stand-in:
// constructing it costs nothing, and the real client is created the first time something is asked of it — which
// happens only in effects (a hook's store subscribing, the provider's mount effect), never while rendering.

import {
  ClientClosedError,
  type ClientStats,
  type ConnectionState,
  type HistoryOptions,
  type HistoryPage,
  type PresencePage,
  type PublishOptions,
  type PublishResult,
  type ReceiptRecord,
  type ResetEvent,
  type SubscribeOptions,
  type Subscription,
  type SwitchboardClientLike,
} from '@switchboard/client';

/** The state before the real client exists: the same one a client created with `autoConnect: false` reports. */
const NOT_STARTED: ConnectionState = Object.freeze({ status: 'disconnected', transport: null, reason: 'not connected yet' });
const NO_STATS: ClientStats = Object.freeze({
  connects: 0,
  transportSwitches: 0,
  duplicatesDropped: 0,
  gapsSeen: 0,
  resets: 0,
  refreshes: 0,
  acksSent: 0,
  acksDropped: 0,
});

export class DeferredClient implements SwitchboardClientLike {
  private inner: SwitchboardClientLike | null = null;
  private closed = false;

  constructor(private readonly create: () => SwitchboardClientLike) {}

  /** Whether the real client exists (something was asked of it). */
  get started(): boolean {
    return this.inner !== null;
  }

  private get client(): SwitchboardClientLike {
    if (this.closed) throw new ClientClosedError();
    this.inner ??= this.create();
    return this.inner;
  }

  get state(): ConnectionState {
    return this.inner?.state ?? (this.closed ? CLOSED : NOT_STARTED);
  }

  get stats(): ClientStats {
    return this.inner?.stats ?? NO_STATS;
  }

  connect(): void {
    this.client.connect();
  }

  disconnect(): void {
    this.inner?.disconnect();
  }

  close(): void {
    this.closed = true;
    this.inner?.close();
  }

  on(event: 'state', listener: (state: ConnectionState) => void): () => void;
  on(event: 'error', listener: (error: unknown) => void): () => void;
  on(event: 'reset', listener: (reset: ResetEvent) => void): () => void;
  on(event: 'state' | 'error' | 'reset', listener: (value: never) => void): () => void {
    return (this.client.on as (event: string, listener: (value: never) => void) => () => void)(event, listener);
  }

  subscribe<Data = unknown, Info = unknown>(channel: string, options?: SubscribeOptions<Data, Info>): Subscription<Info> {
    return this.client.subscribe<Data, Info>(channel, options);
  }

  publish<Data = unknown>(channel: string, data: Data, options?: PublishOptions): Promise<PublishResult> {
    return this.started_(() => this.client.publish<Data>(channel, data, options));
  }

  signal(channel: string, type: string, data?: unknown): Promise<{ coalesced: boolean }> {
    return this.started_(() => this.client.signal(channel, type, data));
  }

  presence<Info = unknown>(channel: string, options?: { cursor?: string; limit?: number }): Promise<PresencePage<Info>> {
    return this.started_(() => this.client.presence<Info>(channel, options));
  }

  markRead(channel: string, offset: number): Promise<void> {
    return this.started_(() => this.client.markRead(channel, offset));
  }

  receipts(channel: string, offset: number): Promise<ReceiptRecord> {
    return this.started_(() => this.client.receipts(channel, offset));
  }

  updatePresence(channel: string, info: unknown): Promise<void> {
    return this.started_(() => this.client.updatePresence(channel, info));
  }

  history<Data = unknown>(channel: string, options?: HistoryOptions): Promise<HistoryPage<Data>> {
    return this.started_(() => this.client.history<Data>(channel, options));
  }

  /** The namespace's signal interval as the real client learned it (undefined before, or for a tab client). */
  signalIntervalMs(channel: string): number | undefined {
    const inner = this.inner as (SwitchboardClientLike & { signalIntervalMs?(channel: string): number | undefined }) | null;
    return inner?.signalIntervalMs?.(channel);
  }

  /** Promise-returning calls reject (never throw) once closed, like the real client's. */
  private started_<T>(call: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ClientClosedError());
    return call();
  }
}

const CLOSED: ConnectionState = Object.freeze({ status: 'disconnected', transport: null, reason: 'client closed' });

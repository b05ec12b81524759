// The client's public types: options, connection state, subscriptions, publishing, presence.

import type { BackoffOptions } from './backoff.js';
import type { Logger } from './log.js';
import type { StreamPosition } from './protocol.js';
import type { PresenceMember, PresenceState, Publication, ResetEvent, SubscriptionListener, SubscriptionState } from './subscriptions.js';
import type { Timers } from './timers.js';
import type { TransportFactory, TransportName } from './transport.js';

export type ConnectionState =
  | { status: 'connecting'; transport: TransportName; attempt: number }
  | { status: 'connected'; transport: TransportName; clientId: string; user?: string }
  | { status: 'reconnecting'; transport: TransportName; attempt: number; nextRetryMs: number; reason: string }
  | { status: 'disconnected'; transport: TransportName | null; reason: string; code?: number };

export interface PublishResult {
  channel: string;
  epoch: string;
  offset: number;
}

export interface PublishOptions {
  /** Defaults to a key generated per publish; pass your own to deduplicate across page loads. */
  idempotencyKey?: string;
  /** Conflation key: on a conflating namespace a slow subscriber gets only the latest publication per key (§4.9). */
  key?: string;
  /** `high`: ahead of other channels' waiting publications in a backed-up queue (§4.9). */
  priority?: 'high';
  /** Reject with `PublishTimeoutError` when not answered within this many ms (default `publishTimeoutMs`). */
  timeoutMs?: number;
  /**
   * Ask for delivery and read receipts (namespace with `receipts: true`, §4.11): recipients' clients acknowledge, and
   * the publisher's subscriptions to the channel get `onReceipt`; `client.receipts(channel, offset)` gives the record.
   */
  receipts?: boolean;
}

/** Who received and read a publication that asked for receipts (the `receipts` command, protocol.md §4.11). */
export interface ReceiptRecord {
  channel: string;
  offset: number;
  /** Per recipient user; empty when `truncated` (beyond the namespace's `receipts_max_recipients`). */
  recipients: Array<{ user: string; delivered: boolean; read: boolean }>;
  total: number;
  delivered: number;
  read: number;
  truncated: boolean;
}

export interface PresencePage<Info = unknown> {
  channel: string;
  clients: number;
  users: number;
  members: PresenceMember<Info>[];
  /** Cursor of the next page, when more members follow. */
  next?: string;
}


/** `Data`: the channel's publications' `data`; `Info`: presence members' `info`. */
export interface SubscribeOptions<Data = unknown, Info = unknown> extends SubscriptionListener<Data, Info> {
  /** Resume after this position (the last publication the app already has). Applies to the channel's first listener. */
  since?: StreamPosition | null;
  /** A subscription token for a private channel (docs/security.md §1.6). */
  token?: string | null;
  /**
   * At most this many pushes per second for this channel (server-side rate, §4.9). The channel's listeners share one
   * server subscription: it carries the fastest rate any of them asked for (none if one asked for none), re-negotiated
   * when listeners come and go. `token` likewise: the most recent listener's.
   */
  maxRate?: number;
  /**
   * `false`: watch the channel's presence without joining it — this connection is not listed and others get no
   * `join` for it (§4.7); you cannot `updatePresence` there. The shared server subscription joins as soon as one
   * listener joins (the default).
   */
  joinPresence?: boolean;
}

export interface Subscription<Info = unknown> {
  readonly channel: string;
  readonly state: SubscriptionState;
  /** The last publication seen on this channel, shared by all its listeners. */
  readonly position: StreamPosition | null;
  /** Presence of a presence channel (null otherwise, or before the snapshot). */
  readonly presence: PresenceState<Info> | null;
  unsubscribe(): void;
}

/** The subset of `window`/`document` the client listens to; injectable for tests. */
export interface ClientEnvironment {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
  /** `document`-like: `visibilitychange` is listened to on it when given. */
  document?: {
    visibilityState?: string;
    addEventListener(type: string, listener: () => void): void;
    removeEventListener(type: string, listener: () => void): void;
  } | null;
}

export interface ClientOptions {
  /** Server base URL, e.g. `https://rt.example.com` (`wss://` works too). */
  url: string;
  /**
   * Wire format of the WebSocket transport: `msgpack` uses the `switchboard.v1.msgpack` subprotocol (binary frames,
   * Uint8Array data end to end). SSE and long-poll always speak JSON, where binary data is `{"$binary":"<base64>"}`.
   */
  format?: 'json' | 'msgpack';
  /** Ask the server to put several messages in one WebSocket frame (`batch: true` in `connect`, §4.12). Default true. */
  batchFrames?: boolean;
  /** Receipt acknowledgements held while disconnected; beyond it the oldest are dropped (counted in stats). */
  maxQueuedAcks?: number;
  /** Shown to others in presence (`connect` command's `info`, at most 1024 bytes of JSON). */
  info?: unknown;
  /** A fixed connection token. Use `getToken` for tokens that expire. */
  token?: string | null;
  /** Called before connecting when no valid token is held, before expiry, and when the server asks for a refresh. */
  getToken?: () => Promise<string | null> | string | null;
  /** A `getToken` that has not settled after this many ms fails (`TokenTimeoutError`); the client retries. Default 10000; 0: wait forever. */
  getTokenTimeoutMs?: number;
  /**
   * Publishes not answered within this many ms reject with `PublishTimeoutError` (queued ones are dropped from the
   * queue). Default 0: a publish waits in the offline queue until it is answered or the client stops.
   */
  publishTimeoutMs?: number;
  /** Transports in order of preference (default websocket, sse, poll). Custom factories plug in here. */
  transports?: Array<TransportName | TransportFactory>;
  autoConnect?: boolean;
  backoff?: BackoffOptions;
  /** A connection that lasted this long resets the backoff attempt count. */
  stableAfterMs?: number;
  /** Time from starting an attempt to the `connect` reply before the attempt counts as failed. */
  openTimeoutMs?: number;
  /** Added to the server's heartbeat interval: silence longer than both means the link is dead. */
  heartbeatGraceMs?: number;
  /** Connection failures in a row on one transport before the next one is tried. */
  fallbackAfterFailures?: number;
  /** While on a fallback transport, how often to probe the preferred ones (0 disables). */
  upgradeProbeMs?: number;
  /** Publishes held while disconnected; one more is refused with `PublishQueueFullError`. */
  maxQueuedPublishes?: number;
  /** Refresh the token this long before it expires (when the connect reply gives `expires`). */
  refreshBeforeExpiryMs?: number;
  /** Refresh only when the server asks (`refresh` push), never ahead of expiry. */
  proactiveRefresh?: boolean;
  pollTimeoutMs?: number;
  debug?: boolean | Logger;
  timers?: Timers;
  random?: () => number;
  /** `null` disables online/visibility handling; default is the browser's `window` when there is one. */
  environment?: ClientEnvironment | null;
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket;
}



export interface ClientStats {
  connects: number;
  transportSwitches: number;
  duplicatesDropped: number;
  gapsSeen: number;
  resets: number;
  /** In-band token refreshes the server accepted. */
  refreshes: number;
  /** Receipt acknowledgements (delivered or read) the server accepted. */
  acksSent: number;
  /** Acknowledgements given up: the oldest ones beyond `maxQueuedAcks`. */
  acksDropped: number;
}

/** The operator's notice to this client (protocol.md §13): `kind` is `deprecation` today; `sunset` a `YYYY-MM-DD` day. */
export interface ServerNotice {
  kind: string;
  message: string;
  sunset?: string;
}

/** What every client offers, whether it holds the connection itself or shares one across tabs. */
export interface SwitchboardClientLike extends PresenceAndSignals {
  readonly state: ConnectionState;
  readonly stats: ClientStats;
  connect(): void;
  disconnect(): void;
  close(): void;
  on(event: 'state', listener: (state: ConnectionState) => void): () => void;
  on(event: 'error', listener: (error: unknown) => void): () => void;
  on(event: 'reset', listener: (reset: ResetEvent) => void): () => void;
  subscribe<Data = unknown, Info = unknown>(channel: string, options?: SubscribeOptions<Data, Info>): Subscription<Info>;
  publish<Data = unknown>(channel: string, data: Data, options?: PublishOptions): Promise<PublishResult>;
}

/** Presence, signals and receipts: offered by every client (a shared tab client relays them to the leader tab). */
export interface PresenceAndSignals {
  signal(channel: string, type: string, data?: unknown): Promise<{ coalesced: boolean }>;
  presence<Info = unknown>(channel: string, options?: { cursor?: string; limit?: number }): Promise<PresencePage<Info>>;
  /** Marks a received publication read (§4.11). Queued while offline; resolves once the server recorded it. */
  markRead(channel: string, offset: number): Promise<void>;
  /** The receipt record of your own publication (the publisher only). Needs a connection. */
  receipts(channel: string, offset: number): Promise<ReceiptRecord>;
  /**
   * Sets this connection's presence `info` on a channel you subscribed to (instead of the client's `info`; `null`
   * clears it): the others get a `presence_update` (§4.7). Kept for the channel and sent again with every
   * resubscribe; while offline it resolves at once and goes out with the next subscribe.
   */
  updatePresence(channel: string, info: unknown): Promise<void>;
  /** A page of the channel's held publications, oldest first (§4.13). Needs a connection. */
  history<Data = unknown>(channel: string, options?: HistoryOptions): Promise<HistoryPage<Data>>;
}

/** Where a history page starts: at most one of `since`, `before` and `latest` (none: the oldest held). */
export interface HistoryOptions {
  /** 1–1000, default 100. */
  limit?: number;
  /** The publications after this position (another epoch's: the oldest held, `recovered: false`). */
  since?: StreamPosition;
  /** The newest `limit` publications with offsets below this one: loading earlier messages. */
  before?: number;
  /** The newest `limit` publications. */
  latest?: boolean;
}

export interface HistoryPage<Data = unknown> {
  channel: string;
  /** The stream's current position (not the page's last publication). */
  epoch: string;
  offset: number;
  /** Only with `since`: whether the page continues exactly after it. */
  recovered?: boolean;
  /** Oldest first; each carries the page's `epoch`. */
  publications: Publication<Data>[];
}

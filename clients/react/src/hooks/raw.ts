// Plain WebSocket and EventSource endpoints of any server (e.g. Switchboard's /raw/ws/{channel} and
// /raw/sse/{channel}, protocol.md §9), with the same rules as the other hooks: one socket however StrictMode mounts,
// closed when the component goes, messages rendered at most once per frame, every message kept (or the newest
// `limit`). They need no provider; inside one they share its frame batcher.

import { useCallback, useSyncExternalStore } from 'react';
import { Backoff, realTimers, type BackoffOptions, type TimerHandle, type Timers } from '@switchboard/client';
import { useOptionalSwitchboardContext } from '../context.js';
import { DEFAULT_MESSAGE_LIMIT } from './channel.js';
import { FrameBatcher } from '../frames.js';
import { FrameBatchedStore } from '../store.js';
import { useStoreFor } from './connection.js';

let standaloneBatcher: FrameBatcher | null = null;
function useBatcherAndTimers(): { batcher: FrameBatcher; timers: Timers } {
  const context = useOptionalSwitchboardContext();
  if (context) return context;
  standaloneBatcher ??= new FrameBatcher();
  return { batcher: standaloneBatcher, timers: realTimers };
}

/** Message text as JSON when it parses, else the text itself. */
export function parseJsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export type RawStatus = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface RawSnapshot<Message> {
  status: RawStatus;
  /** The newest `limit` messages since mount (default `DEFAULT_MESSAGE_LIMIT`, 1000), oldest first. */
  messages: readonly Message[];
  /** The newest message, or null before the first. */
  lastMessage: Message | null;
  /** The close code of the last close (WebSocket), or null. */
  closeCode: number | null;
}

abstract class RawStore<Message> extends FrameBatchedStore<RawSnapshot<Message>> {
  protected status: RawStatus = 'connecting';
  protected closeCode: number | null = null;
  private incoming: Message[] = [];

  constructor(private readonly limit: number | undefined, batcher: FrameBatcher) {
    super({ status: 'connecting', messages: [], lastMessage: null, closeCode: null }, batcher);
  }

  protected receive(message: Message): void {
    this.incoming.push(message);
    this.changed();
  }

  protected setStatus(status: RawStatus, closeCode: number | null = this.closeCode): void {
    this.status = status;
    this.closeCode = closeCode;
    this.changed();
  }

  protected nextSnapshot(current: RawSnapshot<Message>): RawSnapshot<Message> {
    let messages = current.messages;
    if (this.incoming.length > 0) {
      messages = messages.concat(this.incoming);
      this.incoming = [];
      const limit = this.limit ?? DEFAULT_MESSAGE_LIMIT;
      if (messages.length > limit) messages = messages.slice(messages.length - limit);
    }
    if (messages === current.messages && this.status === current.status && this.closeCode === current.closeCode) return current;
    const lastMessage = messages === current.messages ? current.lastMessage : (messages[messages.length - 1] ?? null);
    return { status: this.status, messages, lastMessage, closeCode: this.closeCode };
  }
}

/** What `send` accepts: text and binary as they are, anything else as JSON. */
export type WebSocketSendable = string | ArrayBuffer | ArrayBufferView | Blob | object | number | boolean | null;

export interface WebSocketHeartbeat {
  /** Sent every `intervalMs` while open (default `ping`). */
  message?: string | (() => string);
  /** The server's answer: never kept as a message (default: none, every message is kept). */
  returnMessage?: string;
  /** Default 25000 ms. */
  intervalMs?: number;
  /** No message at all for this long closes the socket (code 4000 `heartbeat timeout`) and reconnects. Default 60000 ms. */
  timeoutMs?: number;
}

export interface UseWebSocketOptions<Message> {
  protocols?: string | string[];
  /** Turns each text message into what is kept (default: JSON when it parses, else the text). Read on every message. */
  parse?: (text: string) => Message;
  /** Turns each binary message into what is kept (default: the `ArrayBuffer` as it is). Read on every message. */
  parseBinary?: (data: ArrayBuffer | Blob) => Message;
  /** `binaryType` of the socket (default `arraybuffer`). */
  binaryType?: BinaryType;
  /** Messages kept (default `DEFAULT_MESSAGE_LIMIT`, 1000; `Infinity`: all). */
  limit?: number;
  /** Reconnect after a close with full-jitter backoff (default on); `false` stays closed. */
  reconnect?: false | BackoffOptions;
  /**
   * Whether to reconnect after this close. Default: yes, except after 1000 (normal closure) and 1008 (policy
   * violation), where the server meant it. Read at every close.
   */
  shouldReconnect?: (event: CloseEvent) => boolean;
  /** Reconnect attempts in a row before giving up (default 20; `Infinity`: never give up). An open resets the count. */
  reconnectAttempts?: number;
  /** Called once when the attempts ran out; the status is then `closed`. */
  onReconnectStop?: (attempts: number) => void;
  /** Keep-alive: a message sent on an interval, and a deadline for hearing anything back. Off by default. */
  heartbeat?: boolean | WebSocketHeartbeat;
  /** `send` while the socket is not open queues up to this many messages, sent in order once it opens (default 100; 0: no queue). */
  sendQueueLimit?: number;
  onOpen?: (event: Event) => void;
  onClose?: (event: CloseEvent) => void;
  onMessage?: (event: MessageEvent) => void;
  onError?: (event: Event) => void;
  /** The WebSocket constructor (default the global one). */
  WebSocket?: typeof WebSocket;
}

const DEFAULT_RECONNECT_ATTEMPTS = 20;
const DEFAULT_SEND_QUEUE_LIMIT = 100;
const HEARTBEAT_DEFAULTS = { message: 'ping', intervalMs: 25000, timeoutMs: 60000 };
/** Close codes after which the server does not want the client back (RFC 6455 §7.4.1): no reconnect unless asked. */
const FINAL_CLOSE_CODES = new Set([1000, 1008]);
/** The close code a heartbeat timeout closes with (application range 4000–4999; the socket reports it to onClose). */
const HEARTBEAT_TIMEOUT_CODE = 4000;

class WebSocketStore<Message> extends RawStore<Message> {
  /** The latest options from render: callbacks, `parse` and `shouldReconnect` are read from here at each event. */
  options: UseWebSocketOptions<Message>;
  private socket: WebSocket | null = null;
  private retry: TimerHandle | null = null;
  private heartbeatTimer: TimerHandle | null = null;
  private lastHeard = 0;
  private attempt = 0;
  private readonly backoff: Backoff | null;
  private readonly queue: Array<string | ArrayBuffer | ArrayBufferView | Blob> = [];

  constructor(
    private readonly url: string,
    options: UseWebSocketOptions<Message>,
    private readonly timers: Timers,
    batcher: FrameBatcher,
  ) {
    super(options.limit, batcher);
    this.options = options;
    this.backoff = options.reconnect === false ? null : new Backoff(options.reconnect);
  }

  protected attach(): void {
    this.open();
  }

  private open(): void {
    const Socket = this.options.WebSocket ?? globalThis.WebSocket;
    const socket = new Socket(this.url, this.options.protocols);
    socket.binaryType = this.options.binaryType ?? 'arraybuffer';
    this.socket = socket;
    socket.onopen = (event: Event) => {
      if (this.socket !== socket) return;
      this.attempt = 0;
      this.setStatus('open');
      for (const data of this.queue.splice(0)) socket.send(data);
      this.startHeartbeat(socket);
      this.options.onOpen?.(event);
    };
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket !== socket) return;
      this.lastHeard = this.timers.now();
      this.options.onMessage?.(event);
      const heartbeat = this.heartbeat();
      if (typeof event.data === 'string') {
        if (heartbeat?.returnMessage !== undefined && event.data === heartbeat.returnMessage) return;
        this.receive((this.options.parse ?? (parseJsonOrText as (text: string) => Message))(event.data));
      } else {
        const binary = event.data as ArrayBuffer | Blob;
        this.receive(this.options.parseBinary ? this.options.parseBinary(binary) : (binary as unknown as Message));
      }
    };
    socket.onerror = (event: Event) => {
      if (this.socket === socket) this.options.onError?.(event);
    };
    socket.onclose = (event: CloseEvent) => this.closed(socket, event);
  }

  /** The socket closed (the server, the network, or our heartbeat timeout): reconnect, bounded, or stay closed. */
  private closed(socket: WebSocket, event: CloseEvent): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.stopHeartbeat();
    this.options.onClose?.(event);
    if (!this.isAttached) return; // a callback unmounted the component
    const wanted = this.options.shouldReconnect ? this.options.shouldReconnect(event) : !FINAL_CLOSE_CODES.has(event.code);
    if (!this.backoff || !wanted) return this.setStatus('closed', event.code);
    const attempts = this.options.reconnectAttempts ?? DEFAULT_RECONNECT_ATTEMPTS;
    if (this.attempt >= attempts) {
      this.setStatus('closed', event.code);
      this.options.onReconnectStop?.(this.attempt);
      return;
    }
    this.setStatus('reconnecting', event.code);
    this.retry = this.timers.setTimeout(() => {
      this.retry = null;
      this.open();
    }, this.backoff.delayMs(++this.attempt));
  }

  private heartbeat(): (Required<Omit<WebSocketHeartbeat, 'returnMessage'>> & Pick<WebSocketHeartbeat, 'returnMessage'>) | null {
    const option = this.options.heartbeat;
    if (!option) return null;
    return { ...HEARTBEAT_DEFAULTS, ...(option === true ? {} : option) };
  }

  /** One timer per tick: send the heartbeat, and close a socket that stayed silent past the timeout. */
  private startHeartbeat(socket: WebSocket): void {
    const heartbeat = this.heartbeat();
    if (!heartbeat) return;
    this.lastHeard = this.timers.now();
    const tick = (): void => {
      this.heartbeatTimer = null;
      if (this.socket !== socket) return;
      const { message, intervalMs, timeoutMs } = this.heartbeat() ?? heartbeat;
      if (this.timers.now() - this.lastHeard >= timeoutMs) {
        // A dead link may take minutes to report its close: let go of the socket now and decide as for any close.
        socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
        socket.close(HEARTBEAT_TIMEOUT_CODE, 'heartbeat timeout');
        this.closed(socket, { code: HEARTBEAT_TIMEOUT_CODE, reason: 'heartbeat timeout', wasClean: false } as CloseEvent);
        return;
      }
      socket.send(typeof message === 'function' ? message() : message);
      this.heartbeatTimer = this.timers.setTimeout(tick, Math.min(intervalMs, timeoutMs));
    };
    this.heartbeatTimer = this.timers.setTimeout(tick, Math.min(heartbeat.intervalMs, heartbeat.timeoutMs));
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer !== null) this.timers.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  protected detach(): void {
    if (this.retry !== null) this.timers.clearTimeout(this.retry);
    this.retry = null;
    this.stopHeartbeat();
    this.queue.length = 0;
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      socket.close(1000);
    }
    this.setStatus('closed', 1000);
  }

  /**
   * Sends text and binary as they are and anything else as JSON. While the socket is connecting or reconnecting the
   * message waits in a bounded queue and goes out in order on open. False when it was neither sent nor queued (the
   * queue is full, or the hook is closed for good).
   */
  readonly send = (data: WebSocketSendable): boolean => {
    const payload = isBinary(data) || typeof data === 'string' ? data : JSON.stringify(data);
    const socket = this.socket;
    if (socket && socket.readyState === 1) {
      socket.send(payload);
      return true;
    }
    const limit = this.options.sendQueueLimit ?? DEFAULT_SEND_QUEUE_LIMIT;
    if (!this.isAttached || this.status === 'closed' || this.queue.length >= limit) return false;
    this.queue.push(payload);
    return true;
  };

  readonly getWebSocket = (): WebSocket | null => this.socket;
}

function isBinary(data: unknown): data is ArrayBuffer | ArrayBufferView | Blob {
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return true;
  const BlobClass = (globalThis as { Blob?: typeof Blob }).Blob;
  return BlobClass !== undefined && data instanceof BlobClass;
}

export interface WebSocketApi {
  send(data: WebSocketSendable): boolean;
  /** The socket right now (null between attempts and after close), for what the hook does not cover. */
  getWebSocket(): WebSocket | null;
}

/**
 * A plain WebSocket: status, the newest messages (text parsed, binary kept), `send` with a queue while connecting,
 * reconnect with backoff (bounded, and not after 1000/1008 unless `shouldReconnect` says so), an optional heartbeat,
 * and the socket's events as callbacks. Callbacks, `parse` and `shouldReconnect` may change on every render.
 */
export function useWebSocket<Message = unknown>(url: string, options: UseWebSocketOptions<Message> = {}): RawSnapshot<Message> & WebSocketApi {
  const { batcher, timers } = useBatcherAndTimers();
  const protocols = Array.isArray(options.protocols) ? options.protocols.join(',') : options.protocols;
  const store = useStoreFor(
    [url, batcher, timers, protocols, options.limit, options.WebSocket, JSON.stringify(options.reconnect ?? null)],
    () => new WebSocketStore<Message>(url, options, timers, batcher),
  );
  store.options = options;
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
  const send = useCallback((data: WebSocketSendable) => store.send(data), [store]);
  return { ...snapshot, send, getWebSocket: store.getWebSocket };
}

export interface EventSourceMessage<Data> {
  /** The event name (`message` for plain `data:` events). */
  event: string;
  data: Data;
  lastEventId: string;
}

export interface UseEventSourceOptions<Data> {
  /** Named events to listen to besides `message` (e.g. Switchboard raw SSE's `reset` and `disconnect`). */
  events?: string[];
  parse?: (text: string) => Data;
  limit?: number;
  withCredentials?: boolean;
  /** The EventSource constructor (default the global one). It reconnects by itself, resuming with Last-Event-ID. */
  EventSource?: typeof EventSource;
}

class EventSourceStore<Data> extends RawStore<EventSourceMessage<Data>> {
  private source: EventSource | null = null;

  constructor(private readonly url: string, private readonly options: UseEventSourceOptions<Data>, batcher: FrameBatcher) {
    super(options.limit, batcher);
  }

  protected attach(): void {
    const Source = this.options.EventSource ?? globalThis.EventSource;
    const source = new Source(this.url, { withCredentials: this.options.withCredentials ?? false });
    this.source = source;
    const parse = this.options.parse ?? (parseJsonOrText as (text: string) => Data);
    const deliver = (event: MessageEvent) => {
      if (this.source !== source) return;
      this.receive({ event: event.type, data: parse(String(event.data)), lastEventId: event.lastEventId });
    };
    source.onopen = () => this.setStatus('open');
    // EventSource retries by itself after an error (readyState CONNECTING) and gives up when it is CLOSED.
    source.onerror = () => this.setStatus(source.readyState === 2 ? 'closed' : 'reconnecting');
    source.addEventListener('message', deliver as EventListener);
    for (const name of this.options.events ?? []) source.addEventListener(name, deliver as EventListener);
  }

  protected detach(): void {
    const source = this.source;
    this.source = null;
    source?.close();
    this.setStatus('closed');
  }
}

/** A plain EventSource: status and every event received (`message` and the named `events`). */
export function useEventSource<Data = unknown>(
  url: string,
  options: UseEventSourceOptions<Data> = {},
): RawSnapshot<EventSourceMessage<Data>> {
  const { batcher } = useBatcherAndTimers();
  const store = useStoreFor(
    [url, batcher, (options.events ?? []).join(','), options.limit, options.withCredentials, options.EventSource],
    () => new EventSourceStore<Data>(url, options, batcher),
  );
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}

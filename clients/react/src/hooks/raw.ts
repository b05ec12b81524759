// Plain WebSocket and EventSource endpoints of any server (e.g. Switchboard's /raw/ws/{channel} and
// /raw/sse/{channel}, protocol.md §9), with the same rules as the other hooks: one socket however StrictMode mounts,
// closed when the component goes, messages rendered at most once per frame, every message kept (or the newest
// `limit`). They need no provider; inside one they share its frame batcher.

import { useCallback, useSyncExternalStore } from 'react';
import { Backoff, realTimers, type BackoffOptions, type TimerHandle, type Timers } from '@switchboard/client';
import { useOptionalSwitchboardContext } from '../context.js';
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
  /** Every message since mount (the newest `limit` with that option), oldest first. */
  messages: readonly Message[];
  /** The close code of the last close (WebSocket), or null. */
  closeCode: number | null;
}

abstract class RawStore<Message> extends FrameBatchedStore<RawSnapshot<Message>> {
  protected status: RawStatus = 'connecting';
  protected closeCode: number | null = null;
  private incoming: Message[] = [];

  constructor(private readonly limit: number | undefined, batcher: FrameBatcher) {
    super({ status: 'connecting', messages: [], closeCode: null }, batcher);
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
      if (this.limit !== undefined && messages.length > this.limit) messages = messages.slice(messages.length - this.limit);
    }
    if (messages === current.messages && this.status === current.status && this.closeCode === current.closeCode) return current;
    return { status: this.status, messages, closeCode: this.closeCode };
  }
}

export interface UseWebSocketOptions<Message> {
  protocols?: string | string[];
  /** Turns each text message into what is kept (default: JSON when it parses, else the text). */
  parse?: (text: string) => Message;
  limit?: number;
  /** Reconnect after a close with full-jitter backoff (default on); `false` stays closed. */
  reconnect?: false | BackoffOptions;
  /** The WebSocket constructor (default the global one). */
  WebSocket?: typeof WebSocket;
}

class WebSocketStore<Message> extends RawStore<Message> {
  private socket: WebSocket | null = null;
  private retry: TimerHandle | null = null;
  private attempt = 0;
  private readonly backoff: Backoff | null;

  constructor(
    private readonly url: string,
    private readonly options: UseWebSocketOptions<Message>,
    private readonly timers: Timers,
    batcher: FrameBatcher,
  ) {
    super(options.limit, batcher);
    this.backoff = options.reconnect === false ? null : new Backoff(options.reconnect);
  }

  protected attach(): void {
    this.open();
  }

  private open(): void {
    const Socket = this.options.WebSocket ?? globalThis.WebSocket;
    const socket = new Socket(this.url, this.options.protocols);
    this.socket = socket;
    const parse = this.options.parse ?? (parseJsonOrText as (text: string) => Message);
    socket.onopen = () => {
      this.attempt = 0;
      this.setStatus('open');
    };
    socket.onmessage = (event: MessageEvent) => {
      if (typeof event.data === 'string') this.receive(parse(event.data));
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (!this.backoff) return this.setStatus('closed', event.code);
      this.setStatus('reconnecting', event.code);
      this.retry = this.timers.setTimeout(() => {
        this.retry = null;
        this.open();
      }, this.backoff.delayMs(++this.attempt));
    };
  }

  protected detach(): void {
    if (this.retry !== null) this.timers.clearTimeout(this.retry);
    this.retry = null;
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = null;
      socket.close(1000);
    }
    this.setStatus('closed', 1000);
  }

  /** Sends text as is and anything else as JSON. False when the socket is not open (nothing is queued). */
  readonly send = (data: unknown): boolean => {
    const socket = this.socket;
    if (!socket || socket.readyState !== 1) return false;
    socket.send(typeof data === 'string' ? data : JSON.stringify(data));
    return true;
  };
}

/** A plain WebSocket: status, every message received, and `send`. */
export function useWebSocket<Message = unknown>(
  url: string,
  options: UseWebSocketOptions<Message> = {},
): RawSnapshot<Message> & { send(data: unknown): boolean } {
  const { batcher, timers } = useBatcherAndTimers();
  const protocols = Array.isArray(options.protocols) ? options.protocols.join(',') : options.protocols;
  const store = useStoreFor(
    [url, batcher, timers, protocols, options.limit, options.WebSocket, JSON.stringify(options.reconnect ?? null)],
    () => new WebSocketStore<Message>(url, options, timers, batcher),
  );
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
  const send = useCallback((data: unknown) => store.send(data), [store]);
  return { ...snapshot, send };
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

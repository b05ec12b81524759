// The pluggable transport seam. A transport moves protocol commands out and protocol messages (replies and pushes)
// in, and reports when it is ready and when it is gone. Everything else — ids, subscriptions, recovery, tokens,
// backoff — lives in the client, so that a fake transport (the React testing kit) gets all of it for free.

import type { Command, ServerMessage } from './protocol.js';
import type { Timers } from './timers.js';
import type { Logger } from './log.js';
import type { WireFormat } from './wire.js';

export type TransportName = 'websocket' | 'sse' | 'poll' | string;

export interface TransportCloseEvent {
  /** A close code per protocol.md §6; transports without close frames map their failures onto it (1006 = dropped). */
  code: number;
  reason: string;
}

export interface TransportHandlers {
  /** Commands may be sent from now on. */
  onOpen(): void;
  /** One reply or push, in the order the server sent them. */
  onMessage(message: ServerMessage): void;
  /** Any sign of life from the server, heartbeats included (feeds the client's watchdog). */
  onActivity(): void;
  /** Called once when the transport ends by itself. Never called after the client's own `close()`. */
  onClose(event: TransportCloseEvent): void;
}

export interface Transport {
  readonly name: TransportName;
  open(handlers: TransportHandlers): void;
  /** Sends commands in order. The server executes them one at a time in that order. */
  send(commands: Command[]): void;
  /** Ends the transport silently; releases every socket, request and timer it holds. */
  close(): void;
}

export interface TransportContext {
  /** The server's base URL, `http(s)://host:port` (a `ws(s)://` URL is accepted and converted). */
  baseUrl: string;
  timers: Timers;
  log: Logger;
  /** How long a long-poll request may wait on the server (sent as `timeout=`), in ms. */
  pollTimeoutMs: number;
  /** Wire format asked for (`msgpack`: WebSocket only; SSE and long-poll always speak JSON). Default `json`. */
  format?: WireFormat;
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket;
}

export interface TransportFactory {
  readonly name: TransportName;
  create(context: TransportContext): Transport;
}

export function httpBase(url: string): string {
  return url.replace(/^ws(s?):\/\//i, 'http$1://').replace(/\/+$/, '');
}

export function wsBase(url: string): string {
  return httpBase(url).replace(/^http(s?):\/\//i, 'ws$1://');
}

/**
 * The fetch to use, callable as a plain function. Browsers throw "Illegal invocation" when `window.fetch` is called
 * as a method of anything but `window`, which is what storing it on an object and calling it from there does.
 */
export function fetchFunction(context: TransportContext): typeof fetch {
  const impl = context.fetch ?? globalThis.fetch;
  return (input, init) => impl.call(globalThis, input, init);
}

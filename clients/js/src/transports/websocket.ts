import type { Command, ServerMessage } from '../protocol.js';
import type { Transport, TransportContext, TransportFactory, TransportHandlers } from '../transport.js';
import { wsBase } from '../transport.js';
import { summarize } from '../log.js';
import {
  encodeMessagePackCommand,
  JSON_SUBPROTOCOL,
  MSGPACK_SUBPROTOCOL,
  parseJsonMessages,
  parseMessagePackMessages,
  toJson,
  type WireFormat,
} from '../wire.js';

export const SUBPROTOCOL = JSON_SUBPROTOCOL;

class WebSocketTransport implements Transport {
  readonly name = 'websocket';
  private socket: WebSocket | null = null;
  /** The format the server agreed to in the handshake; until then, the one asked for. */
  private format: WireFormat;
  private handlers: TransportHandlers | null = null;

  constructor(private readonly context: TransportContext) {
    this.format = context.format ?? 'json';
  }

  open(handlers: TransportHandlers): void {
    const WebSocketImpl = this.context.WebSocket ?? globalThis.WebSocket;
    if (!WebSocketImpl) {
      // Not a network failure: this environment simply has no WebSocket, so let fallback move on.
      this.context.timers.setTimeout(() => handlers.onClose({ code: 1006, reason: 'WebSocket is not available' }), 0);
      return;
    }
    this.handlers = handlers;
    const url = `${wsBase(this.context.baseUrl)}/connection/websocket`;
    // MessagePack is offered first and JSON second: a server without MessagePack picks JSON and the client follows.
    const offered = this.format === 'msgpack' ? [MSGPACK_SUBPROTOCOL, JSON_SUBPROTOCOL] : JSON_SUBPROTOCOL;
    const socket = new WebSocketImpl(url, offered);
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    socket.onopen = () => {
      if (socket.protocol === MSGPACK_SUBPROTOCOL) this.format = 'msgpack';
      else if (socket.protocol === JSON_SUBPROTOCOL) this.format = 'json';
      this.context.log('websocket open', { protocol: socket.protocol || '(none)' });
      handlers.onOpen();
    };
    socket.onmessage = (event: MessageEvent) => {
      handlers.onActivity();
      let messages: ServerMessage[];
      try {
        messages =
          typeof event.data === 'string'
            ? parseJsonMessages(event.data)
            : parseMessagePackMessages(new Uint8Array(event.data as ArrayBuffer));
      } catch (error) {
        this.context.log('websocket: undecodable frame', { error: String(error), frame: summarize(event.data) });
        return;
      }
      // A handler may close this transport (a disconnect push); the rest of a batched frame is then dropped.
      for (const message of messages) {
        if (this.socket !== socket) return;
        handlers.onMessage(message);
      }
    };
    socket.onclose = (event: CloseEvent) => {
      this.detach();
      handlers.onClose({ code: event.code || 1006, reason: event.reason || '' });
    };
    // `error` is always followed by `close` (which carries the code), so it needs no handling of its own.
    socket.onerror = () => {};
  }

  send(commands: Command[]): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== 1) return;
    for (const command of commands) {
      let frame: string | Uint8Array;
      try {
        frame = this.format === 'msgpack' ? encodeMessagePackCommand(command) : toJson(command);
      } catch (error) {
        // Data the format cannot carry (a cycle, a BigInt in JSON, a function in MessagePack): that command fails,
        // the connection does not.
        this.refuseLocally(command, String(error));
        continue;
      }
      socket.send(frame);
    }
  }

  private refuseLocally(command: Command, reason: string): void {
    this.context.log('websocket: command not encodable', { cmd: command.cmd, reason });
    if (typeof command.id !== 'number') return;
    const reply = { id: command.id, error: { code: 112, name: 'invalid_data', reason } };
    this.context.timers.setTimeout(() => this.handlers?.onMessage(reply), 0);
  }

  close(): void {
    const socket = this.socket;
    if (!socket) return;
    this.detach();
    try {
      socket.close(1000);
    } catch {
      // Closing a socket that is still connecting throws in some environments; it is being dropped anyway.
    }
  }

  private detach(): void {
    const socket = this.socket;
    if (!socket) return;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = null;
    this.socket = null;
  }
}

export const websocketTransport: TransportFactory = {
  name: 'websocket',
  create: (context) => new WebSocketTransport(context),
};

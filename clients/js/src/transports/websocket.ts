import type { Command, ServerMessage } from '../protocol.js';
import type { Transport, TransportContext, TransportFactory, TransportHandlers } from '../transport.js';
import { wsBase } from '../transport.js';
import { summarize } from '../log.js';

export const SUBPROTOCOL = 'switchboard.v1.json';

class WebSocketTransport implements Transport {
  readonly name = 'websocket';
  private socket: WebSocket | null = null;

  constructor(private readonly context: TransportContext) {}

  open(handlers: TransportHandlers): void {
    const WebSocketImpl = this.context.WebSocket ?? globalThis.WebSocket;
    if (!WebSocketImpl) {
      // Not a network failure: this environment simply has no WebSocket, so let fallback move on.
      this.context.timers.setTimeout(() => handlers.onClose({ code: 1006, reason: 'WebSocket is not available' }), 0);
      return;
    }
    const url = `${wsBase(this.context.baseUrl)}/connection/websocket`;
    const socket = new WebSocketImpl(url, SUBPROTOCOL);
    this.socket = socket;
    socket.onopen = () => handlers.onOpen();
    socket.onmessage = (event: MessageEvent) => {
      handlers.onActivity();
      if (typeof event.data !== 'string') return; // the server only sends text frames
      let message: ServerMessage;
      try {
        message = JSON.parse(event.data) as ServerMessage;
      } catch {
        this.context.log('websocket: unparseable frame', summarize(event.data));
        return;
      }
      handlers.onMessage(message);
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
    for (const command of commands) socket.send(JSON.stringify(command));
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

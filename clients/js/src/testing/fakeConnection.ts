// One client connection to the in-memory server (fakeServer.ts), as the client's Transport: commands go to the
// server and messages come back a microtask later, as over a network; the server can end it with a close code.

import type { Command, ServerMessage } from '../protocol.js';
import type { Transport, TransportHandlers } from '../transport.js';
import type { FakeServer } from './fakeServer.js';

let connectionCounter = 0;

export class FakeConnection implements Transport {
  readonly subscriptions = new Set<string>();
  readonly clientId = `fakeclient${++connectionCounter}`;
  user: string | undefined;
  info: unknown;
  /** Presence info per channel (`subscribe` info, `presence_update`), instead of `info`. */
  readonly channelInfo = new Map<string, unknown>();
  /** Channels this connection subscribed to with `join: false`: it sees their presence but is not in it. */
  readonly watching = new Set<string>();
  private handlers: TransportHandlers | null = null;
  private ended = false;

  constructor(private readonly server: FakeServer, readonly name: string) {}

  open(handlers: TransportHandlers): void {
    this.handlers = handlers;
    void Promise.resolve().then(() => {
      if (this.ended) return;
      if (this.server.refusing.has(this.name)) {
        this.end(1006, `${this.name} refused`);
        return;
      }
      this.server.connections.add(this);
      handlers.onOpen();
    });
  }

  send(commands: Command[]): void {
    if (this.ended) return;
    const copies = commands.map((command) => JSON.parse(JSON.stringify(command)) as Command);
    void Promise.resolve().then(() => {
      for (const command of copies) if (!this.ended) this.server.handle(this, command);
    });
  }

  close(): void {
    if (!this.ended) this.leaveAll();
    this.ended = true;
  }

  /** A connection that goes away leaves the presence of every channel it was subscribed to. */
  private leaveAll(): void {
    this.server.connections.delete(this);
    if (!this.server.options.presence) return;
    for (const channel of this.subscriptions) this.server.presenceEvent('leave', channel, this);
  }

  /** @internal */
  deliver(message: ServerMessage): void {
    const copy = JSON.parse(JSON.stringify(message)) as ServerMessage;
    void Promise.resolve().then(() => {
      if (this.ended || !this.handlers) return;
      this.handlers.onActivity();
      this.handlers.onMessage(copy);
    });
  }

  /** Ends the connection from the server side with a close code (after a disconnect push for 4xxx codes). */
  end(code: number, reason: string): void {
    if (this.ended) return;
    if (code >= 4000) this.deliver({ push: 'disconnect', code, reason, reconnect: code < 4500 });
    this.leaveAll();
    void Promise.resolve().then(() => Promise.resolve()).then(() => {
      if (this.ended) return;
      this.ended = true;
      this.handlers?.onClose({ code, reason });
    });
  }
}

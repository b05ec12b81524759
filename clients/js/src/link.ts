// One transport connection and the commands in flight on it: numbered commands, batched sends, replies matched to
// their commands. Dropped as a whole when the connection ends; nothing of it is reused by the next one.

import { summarize, type Logger } from './log.js';
import type { Command, Reply } from './protocol.js';
import type { Transport, TransportName } from './transport.js';

export interface PendingCommand {
  onReply(reply: Reply): void;
  /** The link ended before the reply arrived. */
  onLost(): void;
}

export class Link {
  private readonly pending = new Map<number, PendingCommand>();
  private outbox: Command[] = [];
  private ended = false;
  connected = false;
  clientId = '';
  /** The session's user (the token's `sub`); acknowledging receipts needs one. */
  user: string | undefined;
  pingIntervalMs = 25000;
  /** The server's `disconnect` push, which explains the close that follows it. */
  disconnect: { code: number; reason: string } | null = null;

  constructor(
    readonly transport: Transport,
    readonly transportName: TransportName,
    private readonly log: Logger,
    /** Command ids come from the client, unique across its links. */
    private readonly nextId: () => number,
  ) {}

  /** Sends a command that expects a reply. */
  send(command: Command, pending: PendingCommand): void {
    const id = this.nextId();
    this.pending.set(id, pending);
    this.sendRaw({ ...command, id });
  }

  /** Commands issued in one turn of the event loop leave together (one POST on SSE and poll). */
  sendRaw(command: Command): void {
    this.log('send', summarize(command));
    this.outbox.push(command);
    if (this.outbox.length > 1) return;
    void Promise.resolve().then(() => {
      const batch = this.outbox;
      this.outbox = [];
      if (!this.ended) this.transport.send(batch);
    });
  }

  /** Hands a reply to the command it answers (none: a late reply, ignored). */
  answer(reply: Reply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    pending.onReply(reply);
  }

  /** Closes the transport for good; returns the commands still waiting for a reply, in the order they were sent. */
  end(): PendingCommand[] {
    this.ended = true;
    this.transport.close();
    const pending = [...this.pending.values()];
    this.pending.clear();
    return pending;
  }
}

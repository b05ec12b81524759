// SSE + POST: one `GET /connection/sse` stream (no channels in the URL) carries replies and pushes; commands go by
// POST. The stream is read with fetch rather than EventSource so that the client sees heartbeat comments (its
// watchdog needs them), controls reconnection itself (EventSource's own retry would resume without the client's
// positions) and can tell a buffering proxy from a working stream (the session event never arrives).

import type { Command, ServerMessage } from '../protocol.js';
import type { Transport, TransportContext, TransportFactory, TransportHandlers } from '../transport.js';
import { fetchFunction, httpBase } from '../transport.js';
import { CommandPoster, parseError } from './commandPoster.js';
import { SseParser } from './sseParser.js';
import { summarize } from '../log.js';
import { parseJsonMessages } from '../wire.js';

class SseTransport implements Transport {
  readonly name = 'sse';
  private readonly abort = new AbortController();
  private poster: CommandPoster | null = null;
  private handlers: TransportHandlers | null = null;
  private closed = false;
  private disconnectCode: number | null = null;
  private disconnectReason = '';

  constructor(private readonly context: TransportContext) {}

  open(handlers: TransportHandlers): void {
    this.handlers = handlers;
    void this.run();
  }

  send(commands: Command[]): void {
    this.poster?.send(commands);
  }

  close(): void {
    this.closed = true;
    this.poster?.stop();
    this.abort.abort();
  }

  private async run(): Promise<void> {
    const fetchImpl = fetchFunction(this.context);
    const base = httpBase(this.context.baseUrl);
    try {
      const response = await fetchImpl(`${base}/connection/sse`, {
        headers: { accept: 'text/event-stream' },
        signal: this.abort.signal,
        credentials: 'include',
        cache: 'no-store',
      });
      if (response.status !== 200 || !response.body) {
        const error = parseError(await response.text().catch(() => ''));
        this.end(1006, `stream answered ${response.status}${error ? ` ${error.code} ${error.reason}` : ''}`);
        return;
      }
      const parser = new SseParser(
        (event) => this.onEvent(event.data, base, fetchImpl),
        () => this.handlers?.onActivity(),
      );
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (this.closed) return;
        if (done) break;
        this.handlers?.onActivity();
        parser.push(decoder.decode(value, { stream: true }));
      }
      this.end(this.disconnectCode ?? 1006, this.disconnectReason || 'stream ended');
    } catch (error) {
      this.end(1006, `stream failed: ${String(error)}`);
    }
  }

  private onEvent(data: string, base: string, fetchImpl: typeof fetch): void {
    if (this.closed) return;
    let messages: ServerMessage[];
    try {
      messages = parseJsonMessages(data);
    } catch {
      this.context.log('sse: unparseable event', summarize(data));
      return;
    }
    for (const message of messages) {
      if (this.closed) return;
      this.onMessage(message, base, fetchImpl);
    }
  }

  private onMessage(message: ServerMessage, base: string, fetchImpl: typeof fetch): void {
    const push = (message as { push?: string }).push;
    if (push === 'session' && !this.poster) {
      const session = String((message as { session?: unknown }).session);
      this.poster = new CommandPoster(
        `${base}/connection/${encodeURIComponent(session)}/command`,
        fetchImpl,
        {
          onSyntheticReply: (reply) => this.handlers?.onMessage(reply),
          onFatal: (reason) => this.end(1006, reason),
        },
        this.context.log,
      );
      this.handlers?.onOpen();
      return;
    }
    if (push === 'disconnect') {
      const disconnect = message as { code?: number; reason?: string };
      this.disconnectCode = typeof disconnect.code === 'number' ? disconnect.code : 1006;
      this.disconnectReason = disconnect.reason ?? '';
    }
    this.handlers?.onMessage(message);
  }

  private end(code: number, reason: string): void {
    if (this.closed) return;
    this.close();
    this.handlers?.onClose({ code, reason });
  }
}

export const sseTransport: TransportFactory = {
  name: 'sse',
  create: (context) => new SseTransport(context),
};

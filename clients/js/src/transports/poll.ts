// Long-polling: `POST /connection/poll` opens a session, `GET /connection/poll/SID?ack=N` receives batches,
// commands go by POST like SSE. Every message has a sequence number and the server keeps what was not acknowledged,
// so a poll response lost in transit is simply sent again by the next poll: `ack` is always the seq of the last
// response this transport fully handed to the client, never of one it merely received.

import type { Command, ServerMessage } from '../protocol.js';
import type { Transport, TransportContext, TransportFactory, TransportHandlers } from '../transport.js';
import { fetchFunction, httpBase } from '../transport.js';
import { CommandPoster, parseError } from './commandPoster.js';
import { TimerSlot } from '../timers.js';

/** A poll that fails on the network is retried this many times (same ack, nothing lost) before the session is given up. */
const POLL_RETRIES = 2;
const POLL_RETRY_DELAY_MS = 250;
/** Extra time over the server's own poll timeout before a silent poll counts as a dead link. */
const POLL_GRACE_MS = 10000;

class PollTransport implements Transport {
  readonly name = 'poll';
  private readonly abort = new AbortController();
  private poster: CommandPoster | null = null;
  private handlers: TransportHandlers | null = null;
  private session: string | null = null;
  private closed = false;
  private readonly pollDeadline: TimerSlot;
  private readonly retryTimer: TimerSlot;
  private currentPoll: AbortController | null = null;

  constructor(private readonly context: TransportContext) {
    this.fetchImpl = fetchFunction(context);
    this.pollDeadline = new TimerSlot(context.timers);
    this.retryTimer = new TimerSlot(context.timers);
  }

  private readonly fetchImpl: typeof fetch;

  open(handlers: TransportHandlers): void {
    this.handlers = handlers;
    void this.start();
  }

  send(commands: Command[]): void {
    this.poster?.send(commands);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.poster?.stop();
    this.abort.abort();
    this.currentPoll?.abort();
    this.pollDeadline.cancel();
    this.retryTimer.cancel();
    if (this.session) {
      // Tell the server at once instead of letting the session idle out; nobody waits for the answer.
      const url = `${httpBase(this.context.baseUrl)}/connection/poll/${encodeURIComponent(this.session)}`;
      this.fetchImpl(url, { method: 'DELETE', credentials: 'include' }).then(
        (response) => response.body?.cancel(),
        () => {},
      );
    }
  }

  private async start(): Promise<void> {
    const base = httpBase(this.context.baseUrl);
    try {
      const response = await this.fetchImpl(`${base}/connection/poll`, {
        method: 'POST',
        signal: this.abort.signal,
        credentials: 'include',
      });
      const body = await response.text();
      if (this.closed) return;
      if (response.status !== 200) {
        const error = parseError(body);
        this.end(1006, `poll session answered ${response.status}${error ? ` ${error.code} ${error.reason}` : ''}`);
        return;
      }
      const opened = JSON.parse(body) as { session: string; seq?: number };
      this.session = opened.session;
      this.poster = new CommandPoster(
        `${base}/connection/${encodeURIComponent(opened.session)}/command`,
        this.fetchImpl,
        {
          onSyntheticReply: (reply) => this.handlers?.onMessage(reply),
          onFatal: (reason) => this.end(1006, reason),
        },
        this.context.log,
      );
      this.handlers?.onOpen();
      void this.poll(opened.seq ?? 0, 0);
    } catch (error) {
      this.end(1006, `poll session failed: ${String(error)}`);
    }
  }

  private async poll(ack: number, failures: number): Promise<void> {
    if (this.closed || !this.session) return;
    const base = httpBase(this.context.baseUrl);
    const url = `${base}/connection/poll/${encodeURIComponent(this.session)}?ack=${ack}&timeout=${this.context.pollTimeoutMs}`;
    const request = new AbortController();
    this.currentPoll = request;
    this.pollDeadline.arm(this.context.pollTimeoutMs + POLL_GRACE_MS, () => request.abort());
    let messages: ServerMessage[];
    let seq: number;
    try {
      const response = await this.fetchImpl(url, { signal: request.signal, credentials: 'include', cache: 'no-store' });
      const body = await response.text();
      this.pollDeadline.cancel();
      if (this.closed) return;
      if (response.status !== 200) {
        const error = parseError(body);
        // 404 (129): the session expired or the server restarted. The client opens a new one and resubscribes.
        this.end(1006, `poll answered ${response.status}${error ? ` ${error.code} ${error.reason}` : ''}`);
        return;
      }
      const parsed = JSON.parse(body) as { seq: number; messages: ServerMessage[] };
      messages = parsed.messages ?? [];
      seq = parsed.seq;
    } catch (error) {
      this.pollDeadline.cancel();
      if (this.closed) return;
      if (failures < POLL_RETRIES) {
        this.context.log('poll failed, retrying with the same ack', String(error));
        this.retryTimer.arm(POLL_RETRY_DELAY_MS, () => void this.poll(ack, failures + 1));
        return;
      }
      this.end(1006, `poll failed: ${String(error)}`);
      return;
    }
    this.handlers?.onActivity();
    type DisconnectPush = { code?: number; reason?: string };
    let disconnect: DisconnectPush | null = null;
    for (const message of messages) {
      if (this.closed) return;
      if ((message as { push?: string }).push === 'disconnect') disconnect = message as unknown as DisconnectPush;
      this.handlers?.onMessage(message);
    }
    if (this.closed) return;
    if (disconnect) {
      this.end(typeof disconnect.code === 'number' ? disconnect.code : 1006, disconnect.reason ?? '');
      return;
    }
    void this.poll(seq, 0);
  }

  private end(code: number, reason: string): void {
    if (this.closed) return;
    this.close();
    this.handlers?.onClose({ code, reason });
  }
}

export const pollTransport: TransportFactory = {
  name: 'poll',
  create: (context) => new PollTransport(context),
};

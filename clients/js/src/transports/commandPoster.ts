// Sends commands of an SSE or long-poll session with `POST /connection/SID/command`. One request at a time: the
// server executes commands in the order it receives them, and two concurrent requests could arrive in either
// order. Commands queued while a request is in flight go together in the next one, as a JSON array.

import type { Command, Reply } from '../protocol.js';
import type { Logger } from '../log.js';
import { toJson } from '../wire.js';

export interface CommandPosterEvents {
  /** A command the server refused as a whole request (413, 400) gets an error reply made from the response. */
  onSyntheticReply(reply: Reply): void;
  /** The session is gone or the link failed: the transport must end. */
  onFatal(reason: string): void;
}

export class CommandPoster {
  private queue: Command[] = [];
  private inFlight = false;
  private stopped = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly url: string,
    private readonly fetchImpl: typeof fetch,
    private readonly events: CommandPosterEvents,
    private readonly log: Logger,
  ) {}

  send(commands: Command[]): void {
    if (this.stopped) return;
    this.queue.push(...commands);
    if (!this.inFlight) void this.flush();
  }

  stop(): void {
    this.stopped = true;
    this.queue = [];
    this.abort.abort();
  }

  private async flush(): Promise<void> {
    while (!this.stopped && this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      this.inFlight = true;
      let requestBody: string;
      try {
        requestBody = toJson(batch.length === 1 ? batch[0] : batch);
      } catch (error) {
        // Data JSON cannot carry (a cycle, a BigInt): those commands fail, the session does not.
        for (const command of batch) {
          if (typeof command.id === 'number') {
            this.events.onSyntheticReply({ id: command.id, error: { code: 112, name: 'invalid_data', reason: String(error) } });
          }
        }
        this.inFlight = false;
        continue;
      }
      try {
        const response = await this.fetchImpl(this.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: requestBody,
          signal: this.abort.signal,
          credentials: 'include',
        });
        const body = await response.text();
        if (this.stopped) return;
        if (response.status === 202 || response.status === 200) continue;
        const error = parseError(body);
        if (response.status === 404 || !error || (response.status !== 413 && response.status !== 400)) {
          this.fail(`command request answered ${response.status}${error ? ` ${error.code} ${error.reason}` : ''}`);
          return;
        }
        // The body was refused as a whole (too large, not JSON): each command in it gets that error as its reply.
        for (const command of batch) {
          if (typeof command.id === 'number') this.events.onSyntheticReply({ id: command.id, error });
        }
      } catch (error) {
        // The commands may or may not have reached the server. Ending the session makes the client reconnect and
        // resend; publishes carry idempotency keys, so a resend cannot publish twice.
        if (!this.stopped) this.fail(`command request failed: ${String(error)}`);
        return;
      } finally {
        this.inFlight = false;
      }
    }
  }

  private fail(reason: string): void {
    this.log('command channel failed', reason);
    this.stop();
    this.events.onFatal(reason);
  }
}

export function parseError(body: string): { code: number; name: string; reason: string } | null {
  try {
    const parsed = JSON.parse(body) as { error?: { code: number; name: string; reason: string } };
    return parsed.error && typeof parsed.error.code === 'number' ? parsed.error : null;
  } catch {
    return null;
  }
}

// Receipt acknowledgements on the wire (protocol.md §4.11): queued acks go out once connected, a retryable refusal
// is sent again a second later, an ack lost with its link waits for the next one (the queue itself is acks.ts).

import { AckQueue, type AckStatus, type AckWaiter, type PendingAck } from './acks.js';
import type { Link } from './link.js';
import type { Logger } from './log.js';
import { ErrorCode, SwitchboardError, type Command } from './protocol.js';
import { TimerSlot, type Timers } from './timers.js';

export class AckSender {
  private readonly queue: AckQueue;
  private readonly retryTimer: TimerSlot;
  /** Acks the server accepted (`stats.acksSent`). */
  sent = 0;

  constructor(limit: number, timers: Timers, private readonly log: Logger, private readonly currentLink: () => Link | null) {
    this.queue = new AckQueue(limit);
    this.retryTimer = new TimerSlot(timers);
  }

  /** Acks given up to keep the queue bounded (`stats.acksDropped`). */
  get dropped(): number {
    return this.queue.dropped;
  }

  /** Queues an ack, sent at once when connected. A `markRead` passes the waiter of its promise. */
  add(channel: string, offset: number, status: AckStatus, waiter?: AckWaiter): void {
    this.queue.add({ channel, offset, status, waiters: waiter ? [waiter] : [] });
    const link = this.currentLink();
    if (link?.connected) this.flush(link);
  }

  /** Sends every queued ack on the link. */
  flush(link: Link): void {
    for (const ack of this.queue.takeAll()) this.send(link, ack);
  }

  rejectAll(error: Error): void {
    this.queue.rejectAll(error);
  }

  cancelTimers(): void {
    this.retryTimer.cancel();
  }

  private send(link: Link, ack: PendingAck): void {
    const command: Command = { cmd: 'ack', channel: ack.channel, offset: ack.offset };
    if (ack.status === 'read') command.status = 'read';
    link.send(command, {
      onReply: (reply) => {
        if (!reply.error) {
          this.sent++;
          for (const waiter of ack.waiters) waiter.resolve();
          return;
        }
        if (reply.error.code === ErrorCode.rateLimited || reply.error.code === ErrorCode.internalError) {
          // Worth another try: back into the queue, sent again a second later (or on the next connect).
          this.queue.add(ack);
          this.retryTimer.arm(1000, () => {
            const current = this.currentLink();
            if (current?.connected) this.flush(current);
          });
          return;
        }
        // 134 (the publication left the history, or asked no receipts), 101 (anonymous): final.
        this.log('ack refused', { channel: ack.channel, offset: ack.offset, error: reply.error });
        const error = new SwitchboardError(reply.error);
        for (const waiter of ack.waiters) waiter.reject(error);
      },
      // The server may or may not have recorded it; repeating an ack changes nothing, so it goes back to the queue.
      onLost: () => this.queue.add(ack),
    });
  }
}

// Publishing: a publish goes out at once on a live link with nothing queued ahead of it, else waits in the offline
// queue (publishQueue.ts); one whose reply was lost with its link goes back to the queue's front, resent with the
// same idempotency key so that the server stores it once.

import { PublishQueueFullError, PublishTimeoutError } from './errors.js';
import type { Link } from './link.js';
import { SwitchboardError } from './protocol.js';
import { PublishQueue, type QueuedPublish } from './publishQueue.js';
import type { Timers } from './timers.js';
import type { ClientOptions, PublishOptions, PublishResult } from './types.js';

export class Publisher {
  private readonly queue = new PublishQueue();
  /** Publishes in flight on a link that is being dropped, in the order they were sent. */
  private lost: QueuedPublish[] = [];
  private counter = 0;
  /** Prefix of the generated idempotency keys, unique per client instance. */
  private readonly instanceId: string;

  constructor(
    private readonly options: ClientOptions,
    private readonly timers: Timers,
    random: () => number,
  ) {
    this.instanceId = randomId(random);
  }

  /**
   * One publish with its idempotency key (the app's, else a generated one), under the publish deadline
   * (`options.timeoutMs`, else the client's `publishTimeoutMs`; 0 = none): past it the publish rejects with
   * `PublishTimeoutError`; a queued one leaves the queue, a sent one may still be stored (its answer is ignored).
   */
  item(
    channel: string,
    data: unknown,
    options: PublishOptions,
    resolve: (result: PublishResult) => void,
    reject: (error: Error) => void,
  ): QueuedPublish {
    const timeoutMs = options.timeoutMs ?? this.options.publishTimeoutMs ?? 0;
    let settled = false;
    const timer =
      timeoutMs > 0
        ? this.timers.setTimeout(() => {
            if (settled) return;
            settled = true;
            reject(new PublishTimeoutError(timeoutMs, !this.withdraw(item)));
          }, timeoutMs)
        : null;
    const finish =
      <T>(settle: (value: T) => void) =>
      (value: T) => {
        if (settled) return;
        settled = true;
        if (timer !== null) this.timers.clearTimeout(timer);
        settle(value);
      };
    const item: QueuedPublish = {
      channel,
      data,
      idempotencyKey: options.idempotencyKey ?? `${this.instanceId}-${++this.counter}`,
      ...(options.key !== undefined ? { key: options.key } : {}),
      ...(options.priority !== undefined ? { priority: options.priority } : {}),
      ...(options.receipts ? { receipts: true } : {}),
      resolve: finish(resolve),
      reject: finish(reject),
    };
    return item;
  }

  /** Sends on a connected link when nothing waits ahead, else queues; refused beyond `maxQueuedPublishes`. */
  offer(item: QueuedPublish, link: Link | null): void {
    if (link?.connected && this.queue.isEmpty) {
      this.send(link, item);
      return;
    }
    const limit = this.options.maxQueuedPublishes ?? 1000;
    if (!this.queue.offer(item, limit)) item.reject(new PublishQueueFullError(limit));
  }

  /** Connected: the queue goes out in order. */
  flush(link: Link): void {
    for (const item of this.queue.takeAll()) this.send(link, item);
  }

  /** After a link ended: its in-flight publishes go back ahead of the ones still queued. */
  requeueLost(): void {
    const lost = this.lost;
    this.lost = [];
    this.queue.putBack(lost);
  }

  /** Takes a publish back when its timeout passed: true when it had not been sent (it was still queued). */
  withdraw(item: QueuedPublish): boolean {
    const lostIndex = this.lost.indexOf(item);
    if (lostIndex >= 0) this.lost.splice(lostIndex, 1);
    return this.queue.remove(item);
  }

  rejectAll(error: Error): void {
    this.queue.rejectAll(error);
  }

  private send(link: Link, item: QueuedPublish): void {
    link.send(
      {
        cmd: 'publish',
        channel: item.channel,
        data: item.data,
        idempotencyKey: item.idempotencyKey,
        ...(item.key !== undefined ? { key: item.key } : {}),
        ...(item.priority !== undefined ? { priority: item.priority } : {}),
        ...(item.receipts ? { receipts: true } : {}),
      },
      {
        onReply: (reply) => {
          if (reply.error) item.reject(new SwitchboardError(reply.error));
          else {
            const result = reply.result ?? {};
            item.resolve({ channel: String(result.channel), epoch: String(result.epoch), offset: Number(result.offset) });
          }
        },
        // Ambiguous: the server may have stored it. It is resent with the same key, which the server deduplicates.
        onLost: () => this.lost.push(item),
      },
    );
  }
}

function randomId(random: () => number): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  const bytes = new Uint8Array(12);
  const cryptoApi = (globalThis as { crypto?: { getRandomValues?(array: Uint8Array): Uint8Array } }).crypto;
  if (cryptoApi?.getRandomValues) cryptoApi.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  let id = '';
  for (const byte of bytes) id += alphabet[byte % alphabet.length];
  return id;
}

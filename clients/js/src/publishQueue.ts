// The offline publish queue: publishes made while disconnected, and in-flight ones whose link died, waiting to be
// (re)sent in order once connected. Bounded: an offer beyond the limit is refused so that the app hears about it,
// but publishes already accepted are never dropped to make room.

import type { PublishResult } from './types.js';

export interface QueuedPublish {
  channel: string;
  data: unknown;
  /** Kept across resends: the server answers a repeat with the original position instead of publishing again. */
  idempotencyKey: string;
  key?: string;
  priority?: 'high';
  receipts?: boolean;
  resolve(result: PublishResult): void;
  reject(error: Error): void;
}

export class PublishQueue {
  private items: QueuedPublish[] = [];

  get isEmpty(): boolean {
    return this.items.length === 0;
  }

  get length(): number {
    return this.items.length;
  }

  /** Queues a new publish unless `limit` are already waiting. */
  offer(item: QueuedPublish, limit: number): boolean {
    if (this.items.length >= limit) return false;
    this.items.push(item);
    return true;
  }

  /** In-flight publishes of a dropped link go back to the front, ahead of newer ones, even beyond the limit. */
  putBack(items: QueuedPublish[]): void {
    this.items = [...items, ...this.items];
  }

  /** Drops one waiting publish (its timeout passed); false when it is not waiting here. */
  remove(item: QueuedPublish): boolean {
    const index = this.items.indexOf(item);
    if (index < 0) return false;
    this.items.splice(index, 1);
    return true;
  }

  takeAll(): QueuedPublish[] {
    const items = this.items;
    this.items = [];
    return items;
  }

  rejectAll(error: Error): void {
    for (const item of this.takeAll()) item.reject(error);
  }
}

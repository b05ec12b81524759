// Receipt acknowledgements (protocol.md §4.11) waiting to be sent: automatic `delivered` acks of publications that
// asked for receipts, and the app's `read` marks. Like publishes, they wait out a disconnect and go out once
// connected; an ack whose reply was lost with the link is simply sent again (the server ignores repeats). One entry
// per publication: `read` implies `delivered`, so a read mark replaces a waiting delivered ack.

export type AckStatus = 'delivered' | 'read';

export interface AckWaiter {
  resolve(): void;
  reject(error: Error): void;
}

export interface PendingAck {
  channel: string;
  offset: number;
  status: AckStatus;
  /** Promises of `markRead` calls waiting for this ack; automatic acks have none. */
  waiters: AckWaiter[];
}

export class AckQueue {
  private readonly items = new Map<string, PendingAck>();
  dropped = 0;

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.items.size;
  }

  add(ack: PendingAck): void {
    const key = `${ack.offset}\n${ack.channel}`;
    const existing = this.items.get(key);
    if (existing) {
      if (ack.status === 'read') existing.status = 'read';
      existing.waiters.push(...ack.waiters);
      return;
    }
    this.items.set(key, ack);
    // Bounded: after a very long time offline the oldest acks give way. Receipts are a courtesy to the publisher,
    // and an unbounded queue is a memory leak in a tab left open for days.
    while (this.items.size > this.limit) {
      const [oldestKey, oldest] = this.items.entries().next().value as [string, PendingAck];
      this.items.delete(oldestKey);
      this.dropped++;
      for (const waiter of oldest.waiters) waiter.reject(new Error(`ack dropped: more than ${this.limit} acks waiting`));
    }
  }

  takeAll(): PendingAck[] {
    const items = [...this.items.values()];
    this.items.clear();
    return items;
  }

  rejectAll(error: Error): void {
    for (const item of this.takeAll()) for (const waiter of item.waiters) waiter.reject(error);
  }
}

// Delivery and read receipts (protocol.md §4.11) on top of the client's receipts API: `markRead`, `receipts` and
// the subscriptions' `onReceipt`. With a client that lacks it (an old build or a stand-in) the hook reports
// `supported: false` and does nothing.

import { useCallback, useSyncExternalStore } from 'react';
import type { Subscription, SubscribeOptions, SwitchboardClientLike } from '@switchboard/client';
import { useSwitchboardContext } from '../context.js';
import type { FrameBatcher } from '../frames.js';
import { FrameBatchedStore } from '../store.js';
import { useStoreFor } from './connection.js';

export type ReceiptStatus = 'delivered' | 'read';

/** The `receipt` push: a recipient acknowledged one of your publications. */
export interface ReceiptEvent {
  channel: string;
  offset: number;
  user: string;
  status: ReceiptStatus;
}

export interface ReceiptRecipient {
  user: string;
  delivered: boolean;
  read: boolean;
}

/** The reply of the `receipts` command / `GET /api/receipts`. */
export interface ReceiptRecord {
  channel: string;
  offset: number;
  recipients: ReceiptRecipient[];
  total: number;
  delivered: number;
  read: number;
  truncated?: boolean;
}

/** What the hook needs from the client: `markRead` and `receipts`, and `onReceipt` on subscriptions. */
export interface ReceiptsCapableClient {
  markRead(channel: string, offset: number): Promise<unknown>;
  receipts(channel: string, offset: number): Promise<ReceiptRecord>;
}

type SubscribeWithReceipts = SubscribeOptions & { onReceipt?: (receipt: ReceiptEvent) => void };

export function supportsReceipts(client: SwitchboardClientLike): client is SwitchboardClientLike & ReceiptsCapableClient {
  const candidate = client as Partial<ReceiptsCapableClient>;
  return typeof candidate.markRead === 'function' && typeof candidate.receipts === 'function';
}

/** Folds a receipt push into a record: read implies delivered; counts follow the recipients. */
export function applyReceipt(record: ReceiptRecord | undefined, receipt: ReceiptEvent): ReceiptRecord {
  const base: ReceiptRecord = record ?? { channel: receipt.channel, offset: receipt.offset, recipients: [], total: 0, delivered: 0, read: 0 };
  if (base.truncated) {
    // Only counts are kept for big audiences (§4.11): count the acknowledgement, name nobody.
    return {
      ...base,
      delivered: base.delivered + (receipt.status === 'delivered' ? 1 : 0),
      read: base.read + (receipt.status === 'read' ? 1 : 0),
    };
  }
  const read = receipt.status === 'read';
  const known = base.recipients.find((recipient) => recipient.user === receipt.user);
  const updated: ReceiptRecipient = { user: receipt.user, delivered: true, read: read || (known?.read ?? false) };
  const recipients = known
    ? base.recipients.map((recipient) => (recipient === known ? updated : recipient))
    : [...base.recipients, updated];
  return {
    ...base,
    recipients,
    total: recipients.length,
    delivered: recipients.filter((recipient) => recipient.delivered).length,
    read: recipients.filter((recipient) => recipient.read).length,
  };
}

class ReceiptsStore extends FrameBatchedStore<ReadonlyMap<number, ReceiptRecord>> {
  private subscription: Subscription | null = null;
  private records = new Map<number, ReceiptRecord>();
  private dirty = false;

  constructor(private readonly client: SwitchboardClientLike, private readonly channel: string, batcher: FrameBatcher) {
    super(new Map(), batcher);
  }

  protected attach(): void {
    if (!supportsReceipts(this.client)) return;
    const options: SubscribeWithReceipts = { onReceipt: (receipt) => this.update(receipt.offset, (record) => applyReceipt(record, receipt)) };
    this.subscription = this.client.subscribe(this.channel, options);
  }

  protected detach(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
  }

  /** Fetches the full record of one of your publications (the publisher only, else `135 receipts_denied`). */
  readonly load = async (offset: number): Promise<ReceiptRecord> => {
    if (!supportsReceipts(this.client)) throw new Error('this client has no receipts API yet');
    const record = await this.client.receipts(this.channel, offset);
    this.update(offset, () => record);
    return record;
  };

  readonly markRead = (offset: number): Promise<unknown> => {
    if (!supportsReceipts(this.client)) return Promise.reject(new Error('this client has no receipts API yet'));
    return this.client.markRead(this.channel, offset);
  };

  private update(offset: number, change: (record: ReceiptRecord | undefined) => ReceiptRecord): void {
    this.records.set(offset, change(this.records.get(offset)));
    this.dirty = true;
    this.changed();
  }

  protected nextSnapshot(current: ReadonlyMap<number, ReceiptRecord>): ReadonlyMap<number, ReceiptRecord> {
    if (!this.dirty) return current;
    this.dirty = false;
    return new Map(this.records);
  }
}

export interface ReceiptsSnapshot {
  /** False with a client that lacks `markRead`/`receipts`: then nothing is tracked and the functions reject. */
  supported: boolean;
  /** Receipt records of your publications on the channel, by offset: from pushes, and from `load`. */
  records: ReadonlyMap<number, ReceiptRecord>;
  /** Fetch the full record of one publication (e.g. after a reload, when earlier pushes were missed). */
  load(offset: number): Promise<ReceiptRecord>;
  /** Tell the publisher you read a publication (delivery is acknowledged by the client itself). */
  markRead(offset: number): Promise<unknown>;
}

/** Receipts of the channel's publications: the publisher sees who got and read each one; readers mark them read. */
export function useReceipts(channel: string): ReceiptsSnapshot {
  const { client, batcher } = useSwitchboardContext();
  const store = useStoreFor([client, batcher, channel], () => new ReceiptsStore(client, channel, batcher));
  const records = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
  const markRead = useCallback((offset: number) => store.markRead(offset), [store]);
  return { supported: supportsReceipts(client), records, load: store.load, markRead };
}

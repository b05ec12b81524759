// Reading what the server sends into the client's public types: pushes (publication, receipt, signal, join/leave)
// and the results of the presence and receipts queries. Pure functions.

import type { PresenceMember, Publication, Receipt, Signal } from './subscriptions.js';
import type { HistoryPage, PresencePage, ReceiptRecord } from './types.js';

type Fields = Record<string, unknown>;

export function publicationOf(push: Fields): Publication {
  return {
    channel: String(push.channel),
    epoch: String(push.epoch),
    offset: Number(push.offset),
    data: push.data,
    ...(typeof push.sender === 'string' ? { sender: push.sender } : {}),
    ...(typeof push.key === 'string' ? { key: push.key } : {}),
    ...(push.receipts === true ? { receipts: true } : {}),
  };
}

export function receiptOf(push: Fields): Receipt {
  return {
    channel: String(push.channel),
    offset: Number(push.offset),
    user: String(push.user),
    status: push.status === 'read' ? 'read' : 'delivered',
  };
}

export function memberOf(push: Fields): PresenceMember & { client: string } {
  return {
    client: String(push.client),
    ...(typeof push.user === 'string' ? { user: push.user } : {}),
    ...(push.info !== undefined ? { info: push.info } : {}),
  };
}

export function signalOf(push: Fields): Signal {
  return {
    channel: String(push.channel),
    type: String(push.type),
    ...memberOf(push),
    ...(push.data !== undefined ? { data: push.data } : {}),
  };
}

export function presencePageOf(result: Fields, channel: string): PresencePage {
  return {
    channel: String(result.channel ?? channel),
    clients: Number(result.clients ?? 0),
    users: Number(result.users ?? 0),
    members: (Array.isArray(result.members) ? result.members : []) as PresenceMember[],
    ...(typeof result.next === 'string' ? { next: result.next } : {}),
  };
}

export function historyPageOf(result: Fields, channel: string): HistoryPage {
  const epoch = String(result.epoch);
  const name = String(result.channel ?? channel);
  const publications = (Array.isArray(result.publications) ? result.publications : []) as Fields[];
  return {
    channel: name,
    epoch,
    offset: Number(result.offset ?? 0),
    ...(typeof result.recovered === 'boolean' ? { recovered: result.recovered } : {}),
    publications: publications.map((item) => ({
      channel: name,
      epoch,
      offset: Number(item.offset),
      data: item.data,
      ...(typeof item.sender === 'string' ? { sender: item.sender } : {}),
    })),
  };
}

export function receiptRecordOf(result: Fields, channel: string, offset: number): ReceiptRecord {
  return {
    channel: String(result.channel ?? channel),
    offset: Number(result.offset ?? offset),
    recipients: (Array.isArray(result.recipients) ? result.recipients : []) as ReceiptRecord['recipients'],
    total: Number(result.total ?? 0),
    delivered: Number(result.delivered ?? 0),
    read: Number(result.read ?? 0),
    truncated: result.truncated === true,
  };
}

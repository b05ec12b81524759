// An in-memory Switchboard server behind the Transport interface, for tests without a network: it answers the v1
// commands (connect, subscribe with recovery, unsubscribe, publish with idempotency keys and receipts, ack, receipts,
// signal, presence, presence_update, history, ping, refresh), keeps
// per-channel streams with a bounded history, and lets the test cut connections, refuse transports, restart with
// lost history, send server pushes and hold back messages. The React testing kit builds on it.
//
// Messages are delivered asynchronously (a microtask later), as a network would, so code under test cannot rely
// on synchronous answers.

import type { Command, ErrorBody, ServerMessage } from '../protocol.js';
import type { TransportFactory } from '../transport.js';
import { FakeConnection } from './fakeConnection.js';

interface StoredPublication {
  offset: number;
  data: unknown;
  sender?: string;
  /** Per recipient user: delivered/read, when the publication asked for receipts. */
  receipts?: Map<string, { delivered: boolean; read: boolean }>;
}

interface Stream {
  offset: number;
  history: StoredPublication[];
  keys: Map<string, number>;
}

export interface FakeServerOptions {
  historySize?: number;
  pingIntervalMs?: number;
  /** Track presence on every channel: snapshot in the subscribe reply, join/leave pushes (protocol.md §4.7). */
  presence?: boolean;
  /** The `signal_interval_ms` every subscribe reply advertises (default 1000, the server's default). */
  signalIntervalMs?: number;
  /** Decides a token: return an error body to refuse it, or the user id. Default: every token is user `token`'s text. */
  verifyToken?: (token: string) => ErrorBody | { user: string; expires?: number };
}

export class FakeServer {
  epoch: string;
  private streams = new Map<string, Stream>();
  readonly connections = new Set<FakeConnection>();
  /** Transport names whose connections fail to open (like a proxy blocking WebSocket). */
  readonly refusing = new Set<string>();
  /** Every command received, in order, for assertions. */
  readonly received: Array<{ transport: string; command: Command }> = [];
  /** While true, commands are accepted but nothing is answered (a stalled link). */
  stalled = false;
  private epochCounter = 1;
  readonly options: Required<Omit<FakeServerOptions, 'verifyToken'>> & Pick<FakeServerOptions, 'verifyToken'>;

  constructor(options: FakeServerOptions = {}) {
    this.options = {
      historySize: options.historySize ?? 1000,
      pingIntervalMs: options.pingIntervalMs ?? 25000,
      presence: options.presence ?? false,
      signalIntervalMs: options.signalIntervalMs ?? 1000,
      verifyToken: options.verifyToken,
    };
    this.epoch = `fake${this.epochCounter}`;
  }

  /** A transport factory connecting to this server; name it like a real transport to exercise fallback. */
  transport(name = 'websocket'): TransportFactory {
    return { name, create: () => new FakeConnection(this, name) };
  }

  /** Publishes as the HTTP API does. */
  publish(
    channel: string,
    data: unknown,
    idempotencyKey?: string,
    sender?: string,
    receipts = false,
  ): { epoch: string; offset: number } {
    const stream = this.stream(channel);
    if (idempotencyKey !== undefined && stream.keys.has(idempotencyKey)) {
      return { epoch: this.epoch, offset: stream.keys.get(idempotencyKey) as number };
    }
    stream.offset++;
    const publication: StoredPublication = {
      offset: stream.offset,
      data,
      ...(sender ? { sender } : {}),
      ...(receipts ? { receipts: new Map() } : {}),
    };
    stream.history.push(publication);
    if (stream.history.length > this.options.historySize) stream.history.shift();
    if (idempotencyKey !== undefined) stream.keys.set(idempotencyKey, stream.offset);
    for (const connection of this.connections) {
      if (connection.subscriptions.has(channel)) connection.deliver(this.publicationPush(channel, publication));
    }
    return { epoch: this.epoch, offset: stream.offset };
  }

  /** Drops every connection as a cut link does (the client sees 1006), or with a server close code. */
  disconnectAll(code = 1006, reason = 'connection lost'): void {
    for (const connection of [...this.connections]) connection.end(code, reason);
  }

  /** A restart of an in-memory server: every connection drops and all history is gone (a new epoch). */
  restart(): void {
    this.disconnectAll(1006, 'server restarted');
    this.streams.clear();
    this.epoch = `fake${++this.epochCounter}`;
  }

  /** Sends a push (e.g. `{push: 'refresh', grace: 15000}`) to every connection. */
  push(message: ServerMessage): void {
    for (const connection of this.connections) connection.deliver(message);
  }

  subscriberCount(channel: string): number {
    let count = 0;
    for (const connection of this.connections) if (connection.subscriptions.has(channel)) count++;
    return count;
  }

  private stream(channel: string): Stream {
    let stream = this.streams.get(channel);
    if (!stream) this.streams.set(channel, (stream = { offset: 0, history: [], keys: new Map() }));
    return stream;
  }

  private member(connection: FakeConnection, channel: string): Record<string, unknown> {
    const info = connection.channelInfo.has(channel) ? connection.channelInfo.get(channel) : connection.info;
    return {
      client: connection.clientId,
      ...(connection.user ? { user: connection.user } : {}),
      ...(info !== undefined && info !== null ? { info } : {}),
    };
  }

  private presenceSnapshot(channel: string): Record<string, unknown> {
    const present = [...this.connections].filter((connection) => connection.subscriptions.has(channel) && !connection.watching.has(channel));
    const users = new Set(present.map((connection) => connection.user).filter(Boolean));
    return { clients: present.length, users: users.size, members: present.map((connection) => this.member(connection, channel)) };
  }

  /** @internal */
  presenceEvent(kind: 'join' | 'leave' | 'presence_update', channel: string, subject: FakeConnection): void {
    if (subject.watching.has(channel)) return; // not a member: nothing to announce
    const push: ServerMessage = { push: kind, channel, ...this.member(subject, channel) };
    for (const connection of this.connections) if (connection.subscriptions.has(channel)) connection.deliver(push);
  }

  private publicationPush(channel: string, publication: StoredPublication): ServerMessage {
    return {
      push: 'publication',
      channel,
      epoch: this.epoch,
      offset: publication.offset,
      data: publication.data,
      ...(publication.sender ? { sender: publication.sender } : {}),
      ...(publication.receipts ? { receipts: true } : {}),
    };
  }

  /** @internal */
  handle(connection: FakeConnection, command: Command): void {
    this.received.push({ transport: connection.name, command });
    if (this.stalled) return;
    const id = command.id as number;
    const reply = (result: Record<string, unknown>) => connection.deliver({ id, result });
    const fail = (code: number, name: string, reason: string) => connection.deliver({ id, error: { code, name, reason } });
    const channel = String(command.channel ?? '');
    switch (command.cmd) {
      case 'connect':
      case 'refresh': {
        let user: string | undefined;
        let expires: number | undefined;
        if (typeof command.token === 'string') {
          const verdict = this.options.verifyToken ? this.options.verifyToken(command.token) : { user: command.token };
          if ('code' in verdict) {
            fail(verdict.code, verdict.name, verdict.reason);
            if (command.cmd === 'connect') connection.end(verdict.code === 124 ? 4502 : 4501, verdict.code === 124 ? 'token expired' : 'invalid token');
            return;
          }
          user = verdict.user;
          expires = verdict.expires;
        }
        if (command.cmd === 'refresh') {
          reply(expires ? { expires } : {});
          return;
        }
        connection.user = user;
        connection.info = command.info;
        reply({
          client: connection.clientId,
          version: '1',
          ping: this.options.pingIntervalMs,
          ...(user ? { user } : {}),
          ...(expires ? { expires } : {}),
        });
        return;
      }
      case 'subscribe': {
        if (connection.subscriptions.has(channel)) return fail(105, 'already_subscribed', `already subscribed to ${channel}`);
        const stream = this.stream(channel);
        const since = command.since as { epoch: string; offset: number } | null | undefined;
        connection.subscriptions.add(channel);
        if (command.join === false) connection.watching.add(channel);
        else connection.watching.delete(channel);
        if (command.info !== undefined) connection.channelInfo.set(channel, command.info);
        else connection.channelInfo.delete(channel);
        const presence = {
          ...(this.options.presence ? { presence: this.presenceSnapshot(channel) } : {}),
          signal_interval_ms: this.options.signalIntervalMs,
        };
        const joined = () => this.options.presence && this.presenceEvent('join', channel, connection);
        if (!since) {
          reply({ channel, epoch: this.epoch, offset: stream.offset, ...presence });
          joined();
          return;
        }
        const reset = (reason: string) => {
          reply({ channel, epoch: this.epoch, offset: stream.offset, recovered: false, reason, ...presence });
          joined();
        };
        if (since.epoch !== this.epoch) return reset('epoch changed: history was lost');
        if (since.offset > stream.offset) return reset('position is ahead of the stream');
        const missed = stream.history.filter((publication) => publication.offset > since.offset);
        if (since.offset < stream.offset && (missed.length === 0 || missed[0].offset !== since.offset + 1)) {
          return reset('missed publications are older than the history window');
        }
        reply({ channel, epoch: this.epoch, offset: stream.offset, recovered: true, ...presence });
        for (const publication of missed) connection.deliver(this.publicationPush(channel, publication));
        joined();
        return;
      }
      case 'unsubscribe':
        if (!connection.subscriptions.delete(channel)) return fail(109, 'not_subscribed', `not subscribed to ${channel}`);
        reply({});
        if (this.options.presence) this.presenceEvent('leave', channel, connection);
        connection.watching.delete(channel);
        return;
      case 'signal': {
        if (!connection.subscriptions.has(channel)) return fail(109, 'not_subscribed', `not subscribed to ${channel}`);
        reply({});
        const signal: ServerMessage = {
          push: 'signal',
          channel,
          type: String(command.type),
          client: connection.clientId,
          ...(connection.user ? { user: connection.user } : {}),
          ...(command.data !== undefined ? { data: command.data } : {}),
        };
        for (const other of this.connections) if (other.subscriptions.has(channel)) other.deliver(signal);
        return;
      }
      case 'presence':
        reply({ channel, ...this.presenceSnapshot(channel) });
        return;
      case 'presence_update': {
        if (!this.options.presence) return fail(130, 'presence_not_enabled', 'namespace does not track presence');
        if (!connection.subscriptions.has(channel) || connection.watching.has(channel)) return fail(109, 'not_subscribed', `not subscribed to ${channel}`);
        connection.channelInfo.set(channel, command.info ?? null);
        reply({});
        this.presenceEvent('presence_update', channel, connection);
        return;
      }
      case 'history': {
        const stream = this.stream(channel);
        const limit = typeof command.limit === 'number' ? command.limit : 100;
        let held = stream.history;
        const since = command.since as { epoch: string; offset: number } | undefined;
        let recovered: boolean | undefined;
        if (since && since.epoch === this.epoch) {
          held = held.filter((publication) => publication.offset > since.offset);
          recovered = since.offset <= stream.offset && (held.length ? held[0].offset === since.offset + 1 : since.offset === stream.offset);
        } else if (since) {
          recovered = false;
        }
        if (typeof command.before === 'number') held = held.filter((publication) => publication.offset < (command.before as number));
        const page = command.latest === true || typeof command.before === 'number' ? held.slice(-limit) : held.slice(0, limit);
        reply({
          channel,
          epoch: this.epoch,
          offset: stream.offset,
          ...(recovered !== undefined ? { recovered } : {}),
          publications: page.map((publication) => ({
            offset: publication.offset,
            data: publication.data,
            ...(publication.sender ? { sender: publication.sender } : {}),
          })),
        });
        return;
      }
      case 'ack': {
        if (!connection.user) return fail(101, 'unauthorized', 'receipts are per user: connect with a token');
        const record = this.stream(channel).history.find((publication) => publication.offset === command.offset)?.receipts;
        if (!record) return fail(134, 'receipt_not_found', 'no receipts for this publication');
        const status = command.status === 'read' ? 'read' : 'delivered';
        const previous = record.get(connection.user) ?? { delivered: false, read: false };
        const next = { delivered: true, read: previous.read || status === 'read' };
        record.set(connection.user, next);
        reply({});
        const publication = this.stream(channel).history.find((item) => item.offset === command.offset) as StoredPublication;
        const changes: Array<'delivered' | 'read'> = [];
        if (!previous.delivered) changes.push('delivered');
        if (next.read && !previous.read) changes.push('read');
        for (const change of changes) {
          const push: ServerMessage = { push: 'receipt', channel, offset: publication.offset, user: connection.user, status: change };
          for (const other of this.connections) {
            if (other.user === publication.sender && other.subscriptions.has(channel)) other.deliver(push);
          }
        }
        return;
      }
      case 'receipts': {
        const publication = this.stream(channel).history.find((item) => item.offset === command.offset);
        if (!publication?.receipts) return fail(134, 'receipt_not_found', 'no receipts for this publication');
        if (publication.sender !== connection.user) return fail(135, 'receipts_denied', 'only the publisher may read receipts');
        const recipients = [...publication.receipts].map(([user, state]) => ({ user, ...state }));
        reply({
          channel,
          offset: publication.offset,
          recipients,
          total: recipients.length,
          delivered: recipients.filter((recipient) => recipient.delivered).length,
          read: recipients.filter((recipient) => recipient.read).length,
        });
        return;
      }
      case 'publish': {
        const key = typeof command.idempotencyKey === 'string' ? command.idempotencyKey : undefined;
        const position = this.publish(channel, command.data, key, connection.user, command.receipts === true);
        reply({ channel, epoch: position.epoch, offset: position.offset });
        return;
      }
      case 'ping':
        reply({});
        return;
      case 'pong':
        return;
      default:
        fail(104, 'unknown_command', `unknown command "${String(command.cmd)}"`);
    }
  }
}

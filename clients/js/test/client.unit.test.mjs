// The client's state machine against the in-memory fake server and a manual clock: backoff, fallback, recovery,
// the publish queue, tokens and clean shutdown, all without a network or real time.

import test from 'node:test';
import assert from 'node:assert/strict';
import { createClient, Backoff, adviceForCloseCode, PublishQueueFullError, ClientClosedError } from '../dist/switchboard.mjs';
import { FakeServer, FakeTimers, flushMicrotasks } from '../dist/testing.mjs';

function setup({ transports = ['websocket'], random = () => 0.5, server = new FakeServer(), ...options } = {}) {
  const timers = new FakeTimers();
  const environment = fakeEnvironment();
  const client = createClient({
    url: 'http://fake',
    transports: transports.map((name) => server.transport(name)),
    timers,
    random,
    environment,
    ...options,
  });
  const states = [];
  client.on('state', (state) => states.push(state));
  return { client, server, timers, environment, states };
}

function fakeEnvironment() {
  const listeners = new Map();
  const add = (type, listener) => listeners.set(type, [...(listeners.get(type) ?? []), listener]);
  const remove = (type, listener) => listeners.set(type, (listeners.get(type) ?? []).filter((l) => l !== listener));
  const document = { visibilityState: 'visible', addEventListener: add, removeEventListener: remove };
  return {
    addEventListener: add,
    removeEventListener: remove,
    document,
    fire: (type) => [...(listeners.get(type) ?? [])].forEach((listener) => listener()),
    get listenerCount() {
      return [...listeners.values()].reduce((sum, list) => sum + list.length, 0);
    },
  };
}

const collect = () => {
  const received = [];
  return { received, onPublication: (publication) => received.push(publication.data) };
};

test('backoff windows double from the initial delay up to the cap', () => {
  const backoff = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 0.999999);
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((attempt) => backoff.windowMs(attempt)), [100, 200, 400, 800, 1000, 1000]);
});

test('backoff uses full jitter: the delay is anywhere from 0 to the window', () => {
  assert.equal(new Backoff({ initialMs: 1000 }, () => 0).delayMs(3), 0);
  assert.equal(new Backoff({ initialMs: 1000 }, () => 0.5).delayMs(3), 2000);
  assert.equal(new Backoff({ initialMs: 1000 }, () => 0.999).delayMs(3), 3996);
});

test('close codes follow the one rule of protocol §6', () => {
  for (const code of [4001, 4002, 4003, 4004, 1001, 1006, 1011, 1012, 1013]) assert.equal(adviceForCloseCode(code), 'reconnect', String(code));
  for (const code of [4500, 1000, 1002, 1003, 1007, 1008, 1009, 1010]) assert.equal(adviceForCloseCode(code), 'stop', String(code));
  assert.equal(adviceForCloseCode(4501), 'new-token');
  assert.equal(adviceForCloseCode(4502), 'new-token');
});

test('reconnect delays follow backoff with full jitter and a cap while the server stays unreachable', async () => {
  const server = new FakeServer();
  server.refusing.add('websocket');
  const { timers, states, client } = setup({ server, random: () => 0.999, backoff: { initialMs: 100, maxMs: 800 } });
  await timers.advance(10_000);
  const delays = states.filter((s) => s.status === 'reconnecting' && s.nextRetryMs > 0).map((s) => s.nextRetryMs);
  assert.deepEqual(delays.slice(0, 6), [99, 199, 399, 799, 799, 799]);
  const attempts = states.filter((s) => s.status === 'reconnecting' && s.nextRetryMs > 0).map((s) => s.attempt);
  assert.deepEqual(attempts.slice(0, 4), [1, 2, 3, 4]);
  client.close();
});

test('the attempt count starts over after a connection that stayed up', async () => {
  const { server, timers, states, client } = setup({ random: () => 0.999, backoff: { initialMs: 100 }, stableAfterMs: 5000 });
  await timers.advance(0);
  server.disconnectAll();
  await timers.advance(200); // reconnected after attempt 1, but dropped again before it was stable
  server.disconnectAll();
  await timers.advance(0);
  assert.equal(client.state.attempt, 2);
  await timers.advance(1000);
  assert.equal(client.state.status, 'connected');
  await timers.advance(5000); // now stable
  server.disconnectAll();
  await timers.advance(0);
  assert.equal(client.state.status, 'reconnecting');
  assert.equal(client.state.attempt, 1);
  assert.ok(states.length > 0);
  client.close();
});

test('the online event skips the rest of the backoff wait', async () => {
  const { server, timers, environment, client } = setup({ backoff: { initialMs: 60_000 }, random: () => 0.999 });
  await timers.advance(0);
  server.disconnectAll();
  await timers.advance(0);
  assert.equal(client.state.status, 'reconnecting');
  environment.fire('online');
  await timers.advance(0);
  assert.equal(client.state.status, 'connected');
  client.close();
});

test('a tab becoming visible retries at once, a hidden one does not', async () => {
  const { server, timers, environment, client } = setup({ backoff: { initialMs: 60_000 }, random: () => 0.999 });
  await timers.advance(0);
  server.disconnectAll();
  await timers.advance(0);
  environment.document.visibilityState = 'hidden';
  environment.fire('visibilitychange');
  await timers.advance(0);
  assert.equal(client.state.status, 'reconnecting');
  environment.document.visibilityState = 'visible';
  environment.fire('visibilitychange');
  await timers.advance(0);
  assert.equal(client.state.status, 'connected');
  client.close();
});

test('after repeated WebSocket failures the client falls back to SSE, then to long-polling', async () => {
  const server = new FakeServer();
  server.refusing.add('websocket');
  server.refusing.add('sse');
  const { timers, client } = setup({ server, transports: ['websocket', 'sse', 'poll'], backoff: { initialMs: 10, maxMs: 10 } });
  await timers.advance(1000);
  assert.equal(client.state.status, 'connected');
  assert.equal(client.state.transport, 'poll');
  const order = server.received.filter((r) => r.command.cmd === 'connect').map((r) => r.transport);
  assert.deepEqual(order, ['poll']);
  client.close();
});

test('on a fallback transport the client probes the preferred one and moves back once it opens', async () => {
  const server = new FakeServer();
  server.refusing.add('websocket');
  const channel = collect();
  const { timers, client } = setup({ server, transports: ['websocket', 'sse'], backoff: { initialMs: 10, maxMs: 10 }, upgradeProbeMs: 5000 });
  client.subscribe('news', channel);
  await timers.advance(1000);
  assert.equal(client.state.transport, 'sse');
  server.publish('news', 1);
  await timers.advance(5000); // the probe fails: still blocked
  assert.equal(client.state.transport, 'sse');
  server.refusing.delete('websocket');
  server.publish('news', 2);
  await timers.advance(5000);
  assert.equal(client.state.status, 'connected');
  assert.equal(client.state.transport, 'websocket');
  server.publish('news', 3);
  await timers.advance(10);
  assert.deepEqual(channel.received, [1, 2, 3]);
  client.close();
});

test('a resubscribe carries the last seen position, so publications missed while away arrive exactly once', async () => {
  const channel = collect();
  const { server, timers, client } = setup({ backoff: { initialMs: 100 } });
  client.subscribe('news', channel);
  await timers.advance(0);
  server.publish('news', 1);
  server.publish('news', 2);
  await timers.advance(0);
  server.disconnectAll();
  server.publish('news', 3);
  server.publish('news', 4);
  await timers.advance(1000);
  server.publish('news', 5);
  await timers.advance(0);
  assert.deepEqual(channel.received, [1, 2, 3, 4, 5]);
  const resubscribe = server.received.filter((r) => r.command.cmd === 'subscribe')[1].command;
  assert.deepEqual(resubscribe.since, { epoch: server.epoch, offset: 2 });
  client.close();
});

test('lost history surfaces as an explicit reset, then live publications continue', async () => {
  const channel = collect();
  const resets = [];
  const { server, timers, client } = setup();
  client.subscribe('news', { ...channel, onReset: (reset) => resets.push(reset) });
  await timers.advance(0);
  server.publish('news', 1);
  await timers.advance(0);
  server.restart();
  server.publish('news', 'after restart, before reconnect');
  await timers.advance(2000);
  assert.equal(resets.length, 1);
  assert.equal(resets[0].reason, 'epoch changed: history was lost');
  assert.deepEqual({ epoch: resets[0].epoch, offset: resets[0].offset }, { epoch: server.epoch, offset: 1 });
  server.publish('news', 'live');
  await timers.advance(0);
  assert.deepEqual(channel.received, [1, 'live']);
  assert.equal(client.stats.resets, 1);
  client.close();
});

test('a publication at or below the known position is dropped as a duplicate', async () => {
  const channel = collect();
  const { server, timers, client } = setup();
  client.subscribe('news', channel);
  await timers.advance(0);
  server.publish('news', 1);
  await timers.advance(0);
  const connection = [...server.connections][0];
  connection.deliver({ push: 'publication', channel: 'news', epoch: server.epoch, offset: 1, data: 'again' });
  await timers.advance(0);
  assert.deepEqual(channel.received, [1]);
  assert.equal(client.stats.duplicatesDropped, 1);
  client.close();
});

test('many listeners of one channel share one server subscription, which ends with the last listener', async () => {
  const first = collect();
  const second = collect();
  const { server, timers, client } = setup();
  const a = client.subscribe('news', first);
  const b = client.subscribe('news', second);
  await timers.advance(0);
  assert.equal(server.received.filter((r) => r.command.cmd === 'subscribe').length, 1);
  server.publish('news', 1);
  await timers.advance(0);
  a.unsubscribe();
  server.publish('news', 2);
  await timers.advance(0);
  assert.equal(server.subscriberCount('news'), 1);
  b.unsubscribe();
  await timers.advance(0);
  assert.equal(server.subscriberCount('news'), 0);
  assert.deepEqual(first.received, [1]);
  assert.deepEqual(second.received, [1, 2]);
  assert.equal(a.state, 'unsubscribed');
  client.close();
});

test('subscription state goes subscribing → subscribed → subscribing on a drop → subscribed again', async () => {
  const states = [];
  const { server, timers, client } = setup({ backoff: { initialMs: 10 } });
  client.subscribe('news', { onState: (state) => states.push(state) });
  await timers.advance(0);
  server.disconnectAll();
  await timers.advance(100);
  assert.deepEqual(states, ['subscribed', 'subscribing', 'subscribed']);
  client.close();
});

test('publishes made while offline are queued and sent in order once connected', async () => {
  const server = new FakeServer();
  server.refusing.add('websocket');
  const { timers, client } = setup({ server, backoff: { initialMs: 10, maxMs: 10 } });
  const results = [client.publish('chat', 'a'), client.publish('chat', 'b'), client.publish('chat', 'c')];
  await timers.advance(100);
  server.refusing.delete('websocket');
  await timers.advance(100);
  const positions = await Promise.all(results);
  assert.deepEqual(positions.map((p) => p.offset), [1, 2, 3]);
  client.close();
});

test('the offline queue is bounded: one publish too many is refused with PublishQueueFullError', async () => {
  const server = new FakeServer();
  server.refusing.add('websocket');
  const { timers, client } = setup({ server, maxQueuedPublishes: 2 });
  const held = [client.publish('chat', 1), client.publish('chat', 2)];
  await assert.rejects(client.publish('chat', 3), PublishQueueFullError);
  client.close();
  for (const promise of held) await assert.rejects(promise, ClientClosedError);
  await timers.advance(0);
});

test('a publish whose reply was lost is resent with the same idempotency key and stored once', async () => {
  const { server, timers, client } = setup({ backoff: { initialMs: 10 } });
  await timers.advance(0);
  server.stalled = true; // the command arrives, is stored below, but its reply never comes back
  const result = client.publish('chat', 'once');
  await timers.advance(0);
  const sent = server.received.find((r) => r.command.cmd === 'publish').command;
  server.publish('chat', sent.data, sent.idempotencyKey); // what the server did before the link died
  server.stalled = false;
  server.disconnectAll();
  await timers.advance(100);
  const position = await result;
  const publishes = server.received.filter((r) => r.command.cmd === 'publish').map((r) => r.command.idempotencyKey);
  assert.equal(publishes.length, 2);
  assert.equal(publishes[0], publishes[1]);
  assert.equal(position.offset, 1);
  client.close();
});

test('a server error on publish rejects that publish with the server reason', async () => {
  const server = new FakeServer();
  const { timers, client } = setup({ server });
  await timers.advance(0);
  const original = server.handle.bind(server);
  server.handle = (connection, command) =>
    command.cmd === 'publish'
      ? connection.deliver({ id: command.id, error: { code: 103, name: 'publish_not_allowed', reason: 'clients may not publish to this namespace' } })
      : original(connection, command);
  const failure = assert.rejects(client.publish('chat', 1), (error) => error.code === 103 && /may not publish/.test(error.message));
  await timers.advance(0);
  await failure;
  client.close();
});

test('a refused token (4501) makes the client ask getToken for a new one, then connect', async () => {
  const tokens = ['bad', 'alice'];
  let calls = 0;
  const server = new FakeServer({
    verifyToken: (token) => (token === 'bad' ? { code: 123, name: 'invalid_token', reason: 'token signature or format is invalid' } : { user: token }),
  });
  const { timers, client } = setup({ server, getToken: async () => tokens[calls++], backoff: { initialMs: 10 } });
  await timers.advance(100);
  assert.equal(calls, 2);
  assert.equal(client.state.status, 'connected');
  assert.equal(client.state.user, 'alice');
  client.close();
});

test('without getToken a refused token ends in disconnected, with no retry', async () => {
  const server = new FakeServer({ verifyToken: () => ({ code: 124, name: 'token_expired', reason: 'token expired' }) });
  const { timers, client } = setup({ server, token: 'old' });
  await timers.advance(10_000);
  assert.equal(client.state.status, 'disconnected');
  assert.equal(client.state.code, 4502);
  assert.equal(timers.pending, 0);
  client.close();
});

test('a refresh push is answered in band with a token from getToken, without reconnecting', async () => {
  let calls = 0;
  const { server, timers, client } = setup({ getToken: () => `alice-${++calls}`, proactiveRefresh: false });
  await timers.advance(0);
  server.push({ push: 'refresh', grace: 15000 });
  await timers.advance(0);
  const refresh = server.received.find((r) => r.command.cmd === 'refresh');
  assert.equal(refresh.command.token, 'alice-2');
  assert.equal(client.stats.refreshes, 1);
  assert.equal(client.stats.connects, 1);
  client.close();
});

test('a token with an expiry is refreshed ahead of it', async () => {
  let calls = 0;
  const timersStart = 1_700_000_000_000;
  const server = new FakeServer({ verifyToken: (token) => ({ user: 'alice', expires: timersStart / 1000 + 120 * Number(token.split('-')[1]) }) });
  const { timers, client } = setup({ server, getToken: () => `t-${++calls}`, refreshBeforeExpiryMs: 15000 });
  await timers.advance(0);
  await timers.advance(104_000);
  assert.equal(calls, 1);
  await timers.advance(2_000); // 120 s - 15 s = 105 s after the start
  assert.equal(calls, 2);
  assert.equal(client.stats.refreshes, 1);
  client.close();
});

test('a server that stops talking is noticed by the heartbeat watchdog and the client reconnects', async () => {
  const server = new FakeServer({ pingIntervalMs: 1000 });
  const { timers, client } = setup({ server, heartbeatGraceMs: 500, backoff: { initialMs: 10 } });
  await timers.advance(0);
  server.stalled = true;
  await timers.advance(1499);
  assert.equal(client.state.status, 'connected');
  await timers.advance(2);
  assert.equal(client.state.status, 'reconnecting');
  assert.match(client.state.reason, /heartbeat/);
  server.stalled = false;
  await timers.advance(100);
  assert.equal(client.state.status, 'connected');
  client.close();
});

test('a ping push is answered with pong', async () => {
  const { server, timers, client } = setup();
  await timers.advance(0);
  server.push({ push: 'ping' });
  await timers.advance(0);
  assert.ok(server.received.some((r) => r.command.cmd === 'pong' && r.command.id === undefined));
  client.close();
});

test('a stop code (4500) ends in disconnected without retrying, and later publishes are refused at once', async () => {
  const { server, timers, client } = setup();
  await timers.advance(0);
  server.disconnectAll(4500, 'too many malformed commands');
  await timers.advance(0);
  assert.equal(client.state.status, 'disconnected');
  assert.equal(client.state.code, 4500);
  await assert.rejects(client.publish('chat', 1), ClientClosedError);
  assert.equal(timers.pending, 0);
  client.close();
});

test('close() leaves no timer, listener or connection behind', async () => {
  const { server, timers, environment, client } = setup({ upgradeProbeMs: 1000, transports: ['websocket', 'sse'] });
  server.refusing.add('websocket');
  client.subscribe('news', {});
  client.publish('chat', 1).catch(() => {});
  await timers.advance(500);
  assert.ok(environment.listenerCount > 0);
  client.close();
  await flushMicrotasks();
  assert.equal(timers.pending, 0);
  assert.equal(environment.listenerCount, 0);
  assert.equal(server.connections.size, 0);
  assert.equal(client.state.status, 'disconnected');
});

test('1,000 subscribe/unsubscribe cycles leave no subscription, listener or timer behind', async () => {
  const { server, timers, client } = setup();
  await timers.advance(0);
  for (let i = 0; i < 1000; i++) {
    const subscription = client.subscribe(`room:${i % 7}`, { onPublication: () => {} });
    if (i % 3 === 0) await timers.advance(0);
    subscription.unsubscribe();
  }
  await timers.advance(0);
  for (let room = 0; room < 7; room++) assert.equal(server.subscriberCount(`room:${room}`), 0, `room:${room}`);
  const pendingWhileConnected = timers.pending; // watchdog + stable timer only
  assert.ok(pendingWhileConnected <= 3, `pending timers: ${pendingWhileConnected}`);
  client.close();
  assert.equal(timers.pending, 0);
});

test('unsubscribing and subscribing again while the first subscribe is in flight delivers each publication once', async () => {
  const channel = collect();
  const { server, timers, client } = setup();
  await timers.advance(0);
  const first = client.subscribe('news', {});
  first.unsubscribe(); // its subscribe is still on the wire; the unsubscribe follows it in order
  client.subscribe('news', channel);
  await timers.advance(0);
  server.publish('news', 1);
  await timers.advance(0);
  assert.deepEqual(channel.received, [1]);
  assert.equal(server.subscriberCount('news'), 1);
  assert.deepEqual(server.received.filter((r) => r.command.channel === 'news').map((r) => r.command.cmd), ['subscribe', 'unsubscribe', 'subscribe']);
  client.close();
});

test('a listener that throws does not stop delivery to the other listeners; the error is reported', async () => {
  const errors = [];
  const healthy = collect();
  const { server, timers, client } = setup();
  client.on('error', (error) => errors.push(error));
  client.subscribe('news', { onPublication: () => { throw new Error('app bug'); } });
  client.subscribe('news', healthy);
  await timers.advance(0);
  server.publish('news', 1);
  server.publish('news', 2);
  await timers.advance(0);
  assert.deepEqual(healthy.received, [1, 2]);
  assert.equal(errors.length, 2);
  assert.match(errors[0].message, /app bug/);
  client.close();
});

test('debug mode reports lifecycle events and frame summaries to the given logger', async () => {
  const lines = [];
  const { timers, client } = setup({ debug: (event, details) => lines.push(`${event} ${JSON.stringify(details ?? '')}`) });
  client.subscribe('news', {});
  await timers.advance(0);
  client.close();
  const text = lines.join('\n');
  for (const expected of ['state', 'opening', 'send', 'recv', '"cmd\\":\\"subscribe']) assert.ok(text.includes(expected), expected);
});

test('a subscription refused by the server fails with the server error and is not retried on reconnect', async () => {
  const server = new FakeServer();
  const original = server.handle.bind(server);
  server.handle = (connection, command) =>
    command.cmd === 'subscribe'
      ? (server.received.push({ transport: connection.name, command }),
        connection.deliver({ id: command.id, error: { code: 122, name: 'subscribe_denied', reason: 'token does not grant subscribing to secret' } }))
      : original(connection, command);
  const errors = [];
  const states = [];
  const { timers, client } = setup({ server, backoff: { initialMs: 10 } });
  client.subscribe('secret', { onError: (error) => errors.push(error), onState: (state) => states.push(state) });
  await timers.advance(0);
  server.disconnectAll();
  await timers.advance(100);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 122);
  assert.deepEqual(states, ['failed']);
  assert.equal(server.received.filter((r) => r.command.cmd === 'subscribe').length, 1);
  client.close();
});

test('a device clock far ahead of the issuer does not turn proactive refresh into a loop', async () => {
  let calls = 0;
  const jwt = (claims) => `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.s`;
  const timersStart = 1_700_000_000_000;
  // The issuer's clock is two hours behind this device: by the device clock the token expired an hour ago.
  const issuedAt = timersStart / 1000 - 7200;
  const server = new FakeServer({ verifyToken: () => ({ user: 'alice', expires: issuedAt + 3600 }) });
  const { timers, client } = setup({
    server,
    heartbeatGraceMs: 1e9, // the fake server sends no heartbeats; keep this one connection for the whole hour
    getToken: () => (++calls, jwt({ sub: 'alice', iat: issuedAt, exp: issuedAt + 3600 })),
  });
  await timers.advance(0);
  await timers.advance(60_000);
  assert.equal(calls, 1, 'no refresh within the first minute of a one-hour token');
  await timers.advance(3600_000 - 15_000 - 60_000);
  assert.equal(calls, 2, 'refreshed 15 s before the end of its lifetime');
  client.close();
});

test('after connecting on a fallback transport the first upgrade probe comes early', async () => {
  const server = new FakeServer();
  server.refusing.add('websocket');
  const { timers, client } = setup({ server, transports: ['websocket', 'sse'], backoff: { initialMs: 10, maxMs: 10 }, upgradeProbeMs: 60_000 });
  await timers.advance(1000);
  assert.equal(client.state.transport, 'sse');
  server.refusing.delete('websocket'); // e.g. the server was down, not the network
  await timers.advance(2000);
  assert.equal(client.state.transport, 'websocket');
  client.close();
});

test('an offset jump announced by a conflated push is not counted as a gap', async () => {
  const channel = collect();
  const { server, timers, client } = setup();
  client.subscribe('ticker', channel);
  await timers.advance(0);
  const connection = [...server.connections][0];
  const publication = (offset) => ({ push: 'publication', channel: 'ticker', epoch: server.epoch, offset, data: offset, key: 'EURUSD' });
  connection.deliver(publication(1));
  connection.deliver({ push: 'conflated', channel: 'ticker' });
  connection.deliver(publication(5));
  connection.deliver(publication(9)); // unannounced: a gap
  await timers.advance(0);
  assert.deepEqual(channel.received, [1, 5, 9]);
  assert.equal(client.stats.gapsSeen, 1);
  client.close();
});

test('a reset push on a live subscription is a reset: listeners and the client hear it, the stream continues from it', async () => {
  const channel = collect();
  const resets = [];
  const { server, timers, client } = setup();
  client.on('reset', (reset) => resets.push(reset));
  client.subscribe('news', { ...channel, onReset: (reset) => resets.push({ ...reset, from: 'listener' }) });
  await timers.advance(0);
  const connection = [...server.connections][0];
  connection.deliver({ push: 'publication', channel: 'news', epoch: server.epoch, offset: 1, data: 1 });
  connection.deliver({ push: 'reset', channel: 'news', epoch: 'restarted', offset: 0, recovered: false, reason: 'epoch changed: history was lost' });
  connection.deliver({ push: 'publication', channel: 'news', epoch: 'restarted', offset: 1, data: 2 });
  await timers.advance(0);
  assert.deepEqual(channel.received, [1, 2]);
  assert.equal(resets.length, 2);
  assert.deepEqual(resets.find((reset) => reset.from === 'listener'), {
    channel: 'news', epoch: 'restarted', offset: 0, reason: 'epoch changed: history was lost', from: 'listener',
  });
  assert.equal(client.stats.resets, 1);
  assert.equal(client.stats.gapsSeen, 0);
  client.close();
});

test('presence: the snapshot, then joins and leaves, keep the member list exact across a reconnect', async () => {
  const server = new FakeServer({ presence: true });
  const alice = setup({ server, info: { name: 'Alice' }, backoff: { initialMs: 10 } });
  const bob = setup({ server, info: { name: 'Bob' } });
  const names = (subscription) => subscription.presence.members.map((member) => member.info.name).sort().join(',');
  const mine = alice.client.subscribe('room', {});
  await alice.timers.advance(0);
  assert.equal(names(mine), 'Alice');
  const theirs = bob.client.subscribe('room', {});
  await bob.timers.advance(0);
  assert.equal(names(mine), 'Alice,Bob');
  assert.equal(names(theirs), 'Alice,Bob');
  server.disconnectAll(); // both drop; both come back and resubscribe
  await alice.timers.advance(100);
  await bob.timers.advance(1000);
  await alice.timers.advance(0);
  assert.equal(names(mine), 'Alice,Bob');
  assert.equal(mine.presence.clients, 2);
  theirs.unsubscribe();
  await bob.timers.advance(0);
  assert.equal(names(mine), 'Alice');
  alice.client.close();
  bob.client.close();
});

test('signals go to every subscriber of the channel, and are refused while offline', async () => {
  const { timers, client } = setup();
  const signals = [];
  client.subscribe('room', { onSignal: (signal) => signals.push(signal) });
  await timers.advance(0);
  const sent = client.signal('room', 'typing', { on: true });
  await timers.advance(0);
  assert.deepEqual(await sent, { coalesced: false });
  assert.equal(signals.length, 1);
  assert.deepEqual({ type: signals[0].type, data: signals[0].data }, { type: 'typing', data: { on: true } });
  client.disconnect();
  await assert.rejects(client.signal('room', 'typing'), (error) => error.name === 'NotConnectedError');
  client.close();
});

test('position and presence snapshots keep their identity until they change (safe for useSyncExternalStore)', async () => {
  const server = new FakeServer({ presence: true });
  const { timers, client } = setup({ server });
  const subscription = client.subscribe('room', {});
  await timers.advance(0);
  const position = subscription.position;
  const presence = subscription.presence;
  assert.ok(presence);
  assert.equal(subscription.position, position);
  assert.equal(subscription.presence, presence);
  assert.ok(Object.isFrozen(position) && Object.isFrozen(presence));
  server.publish('room', 1);
  await timers.advance(0);
  assert.notEqual(subscription.position, position);
  assert.equal(subscription.position.offset, 1);
  assert.equal(subscription.presence, presence);
  client.close();
});

test('a newer server: unknown members in every reply and push, and unknown push types, are ignored (protocol §13)', async () => {
  const channel = collect();
  const errors = [];
  const { server, timers, client, states } = setup();
  // Every message this server sends gains members a later protocol version might add; results too.
  const newer = new WeakSet();
  const handle = server.handle.bind(server);
  server.handle = (connection, command) => {
    if (!newer.has(connection)) {
      newer.add(connection);
      const deliver = connection.deliver.bind(connection);
      connection.deliver = (message) =>
        deliver({
          ...message,
          added_later: { nested: [1, 2] },
          ...(message.result ? { result: { ...message.result, added_later: true } } : {}),
        });
    }
    handle(connection, command);
  };
  client.on('error', (error) => errors.push(error));
  client.subscribe('news', channel);
  await timers.advance(0);
  const connection = [...server.connections][0];
  connection.deliver({ push: 'notice', kind: 'deprecated', message: 'from a later version' });
  connection.deliver({ push: 'something_new', channel: 'news', offset: 99 });
  server.publish('news', 1);
  server.publish('news', 2);
  const reply = await Promise.race([client.publish('news', 3), timers.advance(0).then(() => 'no reply')]);
  await timers.advance(0);
  assert.deepEqual(channel.received, [1, 2, 3]);
  assert.equal(typeof reply, 'object');
  assert.equal(reply.offset, 3);
  assert.deepEqual(errors, []);
  assert.equal(states.at(-1).status, 'connected');
  assert.equal(states.filter((state) => state.status === 'connected').length, 1, 'no reconnect');
  assert.equal(client.stats.resets, 0);
  client.close();
});

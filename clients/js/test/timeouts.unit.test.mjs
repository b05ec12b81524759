// Deadlines the app can rely on: a getToken that never settles fails the attempt (and the client retries), and a
// publish with a timeout rejects instead of waiting forever — queued ones leave the queue.

import test from 'node:test';
import assert from 'node:assert/strict';
import { createClient, PublishTimeoutError, TokenTimeoutError } from '../dist/switchboard.mjs';
import { FakeLocks, FakeServer, FakeTimers, flushMicrotasks } from '../dist/testing.mjs';

function setup({ server = new FakeServer(), ...options } = {}) {
  const timers = new FakeTimers();
  const client = createClient({
    url: 'http://fake',
    transports: [server.transport('websocket')],
    timers,
    random: () => 0.5,
    environment: null,
    shareAcrossTabs: false,
    backoff: { initialMs: 100, maxMs: 100 },
    ...options,
  });
  const errors = [];
  client.on('error', (error) => errors.push(error));
  return { client, server, timers, errors };
}

test('a getToken that never settles fails after getTokenTimeoutMs (default 10 s), and the next attempt asks again', async () => {
  let calls = 0;
  const { client, timers, errors } = setup({ getToken: () => (++calls === 1 ? new Promise(() => {}) : 'alice') });
  await timers.advance(9999);
  assert.equal(client.state.status, 'connecting');
  await timers.advance(1);
  assert.ok(errors[0] instanceof TokenTimeoutError, String(errors[0]));
  assert.equal(client.state.status, 'reconnecting');
  assert.match(client.state.reason, /getToken did not settle within 10000 ms/);
  await timers.advance(100);
  assert.equal(calls, 2);
  assert.equal(client.state.status, 'connected');
  client.close();
  assert.equal(timers.pending, 0);
});

test('getTokenTimeoutMs: 0 waits for getToken as long as it takes', async () => {
  let release;
  const { client, timers } = setup({ getTokenTimeoutMs: 0, getToken: () => new Promise((resolve) => (release = resolve)) });
  await timers.advance(600000);
  assert.equal(client.state.status, 'connecting');
  release('alice');
  await timers.advance(0);
  assert.equal(client.state.status, 'connected');
  client.close();
});

test('a queued publish with a timeout rejects with PublishTimeoutError and leaves the queue (never sent)', async () => {
  const { client, server, timers } = setup({ autoConnect: false });
  const outcome = client.publish('chat', { text: 'late' }, { timeoutMs: 500 }).catch((error) => error);
  await timers.advance(500);
  const error = await outcome;
  assert.ok(error instanceof PublishTimeoutError);
  assert.equal(error.sent, false);
  client.connect();
  await timers.advance(0);
  assert.equal(client.state.status, 'connected');
  assert.equal(server.received.filter((entry) => entry.command.cmd === 'publish').length, 0, 'the timed-out publish is not sent later');
  client.close();
});

test('publishTimeoutMs applies to every publish; a sent publish whose answer does not come rejects too (sent: true)', async () => {
  const { client, server, timers } = setup({ publishTimeoutMs: 1000 });
  await timers.advance(0);
  assert.equal(client.state.status, 'connected');
  assert.equal((await client.publish('chat', 1)).offset, 1, 'answered in time: resolves');
  server.stalled = true; // commands arrive but are not answered
  const outcome = client.publish('chat', 2).catch((error) => error);
  await timers.advance(1000);
  const error = await outcome;
  assert.ok(error instanceof PublishTimeoutError);
  assert.equal(error.sent, true);
  client.close();
  assert.equal(timers.pending, 0, 'no publish timer is left');
});

test('without a timeout a publish waits in the offline queue as before', async () => {
  const { client, timers } = setup({ autoConnect: false });
  let settled = false;
  const publish = client.publish('chat', 'waits').finally(() => (settled = true));
  await timers.advance(3600000);
  assert.equal(settled, false);
  client.connect();
  await timers.advance(0);
  assert.equal((await publish).offset, 1);
  client.close();
});

test('a follower tab applies the publish timeout itself', async () => {
  const server = new FakeServer();
  const locks = new FakeLocks();
  const timers = new FakeTimers();
  const options = { url: 'http://fake-tabs', transports: [server.transport('websocket')], timers, environment: null, shareAcrossTabs: true, locks };
  const leader = createClient(options);
  const follower = createClient(options);
  try {
    for (let round = 0; round < 5 && follower.state.status !== 'connected'; round++) {
      await timers.advance(0);
      await new Promise((resolve) => setImmediate(resolve)); // BroadcastChannel delivers on the event loop
    }
    assert.equal(follower.state.status, 'connected');
    server.stalled = true;
    const outcome = follower.publish('chat', 'x', { timeoutMs: 200 }).catch((error) => error);
    await timers.advance(200);
    assert.ok((await outcome) instanceof PublishTimeoutError);
    await flushMicrotasks();
  } finally {
    follower.close();
    leader.close();
  }
});

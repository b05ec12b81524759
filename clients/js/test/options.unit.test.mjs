// Listeners of one channel share one server subscription; each states its own `maxRate` and `token`, and when their
// combination changes the client subscribes again from the channel's position: the change reaches the server and
// no publication is lost or repeated.

import test from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '../dist/switchboard.mjs';
import { FakeLocks, FakeServer, FakeTimers } from '../dist/testing.mjs';
import { waitFor } from './helpers/wait.mjs';

function setup(options = {}) {
  const server = new FakeServer();
  const timers = new FakeTimers();
  const client = createClient({ url: 'http://fake', transports: [server.transport('websocket')], timers, environment: null, shareAcrossTabs: false, ...options });
  const subscribes = () => server.received.filter((entry) => entry.command.cmd === 'subscribe').map((entry) => entry.command);
  return { server, timers, client, subscribes };
}

const collect = () => {
  const received = [];
  return { received, onPublication: (publication) => received.push(publication.data) };
};

test('a listener asking for a faster maxRate re-subscribes from the position; when it leaves, the slower rate returns', async () => {
  const { server, timers, client, subscribes } = setup();
  const slow = collect();
  client.subscribe('ticker', { maxRate: 5, ...slow });
  await timers.advance(0);
  server.publish('ticker', 1);
  server.publish('ticker', 2);
  await timers.advance(0);
  const fast = client.subscribe('ticker', { maxRate: 20 });
  server.publish('ticker', 3);
  await timers.advance(0);
  fast.unsubscribe();
  server.publish('ticker', 4);
  await timers.advance(0);
  assert.deepEqual(subscribes().map((command) => [command.maxRate, command.since?.offset ?? null]), [
    [5, null],
    [20, 2],
    [5, 3],
  ]);
  assert.deepEqual(slow.received, [1, 2, 3, 4], 'every publication once, in order, across both re-subscribes');
  assert.equal(server.subscriberCount('ticker'), 1);
  client.close();
});

test('combination: no cap as soon as one listener asks for none; the most recent token is carried', async () => {
  const { timers, client, subscribes } = setup();
  const a = client.subscribe('private:room', { maxRate: 5, token: 'token-a' });
  await timers.advance(0);
  const b = client.subscribe('private:room', { token: 'token-b' });
  await timers.advance(0);
  assert.deepEqual(subscribes().map((command) => [command.maxRate ?? 'none', command.token]), [
    [5, 'token-a'],
    ['none', 'token-b'],
  ]);
  const c = client.subscribe('private:room', { maxRate: 5, token: 'token-b' }); // same combination: nothing sent
  await timers.advance(0);
  assert.equal(subscribes().length, 2);
  a.unsubscribe();
  b.unsubscribe();
  c.unsubscribe();
  client.close();
});

test('with tabs sharing one connection, a tab whose listeners change maxRate makes the leader re-subscribe', async () => {
  const server = new FakeServer();
  const locks = new FakeLocks();
  const options = { url: 'http://fake-options', transports: [server.transport('websocket')], environment: null, shareAcrossTabs: true, locks };
  const first = createClient(options);
  const second = createClient(options);
  const copy = collect();
  try {
    first.subscribe('ticker', { maxRate: 5, ...copy });
    second.subscribe('ticker', { maxRate: 5 });
    await waitFor(() => server.subscriberCount('ticker') === 1 && second.state.status === 'connected', { message: 'shared subscription' });
    server.publish('ticker', 1);
    await waitFor(() => copy.received.length === 1, { message: 'the first publication' });
    const faster = second.subscribe('ticker', { maxRate: 50 });
    await waitFor(() => server.received.some((entry) => entry.command.cmd === 'subscribe' && entry.command.maxRate === 50), { message: 'the faster subscribe' });
    server.publish('ticker', 2);
    faster.unsubscribe();
    await waitFor(() => server.received.filter((entry) => entry.command.cmd === 'subscribe').length === 3, { message: 'back to the slower rate' });
    server.publish('ticker', 3);
    await waitFor(() => copy.received.length === 3, { message: 'every publication in the other tab' });
    assert.deepEqual(copy.received, [1, 2, 3]);
    const rates = server.received.filter((entry) => entry.command.cmd === 'subscribe').map((entry) => entry.command.maxRate);
    assert.deepEqual(rates, [5, 50, 5]);
  } finally {
    first.close();
    second.close();
  }
});

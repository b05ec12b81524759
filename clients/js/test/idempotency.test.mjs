// Publish idempotency against a real server: a retry after an ambiguous failure must not publish twice.

import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '../dist/switchboard.mjs';
import { startLinkFault } from '../../../tools/linkfault/linkfault.mjs';
import { startServer, hasSessionEndpoints } from './helpers/server.mjs';
import { waitFor, waitForState, isConnected } from './helpers/wait.mjs';

let server;
let proxy;
let skipReason = null;

before(async () => {
  server = await startServer();
  proxy = await startLinkFault({ target: server.url });
  // Deduplication ships with the session endpoints (same server change); older builds store a repeat again.
  if (!(await hasSessionEndpoints(server))) skipReason = 'server does not deduplicate idempotency keys yet (no /connection/poll either)';
});

after(async () => {
  await proxy?.close();
  await server?.stop();
});

test('every publish carries an idempotency key, unique per publish', async () => {
  const client = createClient({ url: server.url, transports: ['websocket'], environment: null });
  try {
    const a = await client.publish('chat:keys', 1);
    const b = await client.publish('chat:keys', 2);
    assert.equal(b.offset, a.offset + 1);
  } finally {
    client.close();
  }
});

test('a repeated idempotency key gets the original position, not a second publication', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const client = createClient({ url: server.url, transports: ['websocket'], environment: null });
  try {
    const first = await client.publish('chat:dedupe', { n: 1 }, { idempotencyKey: 'same-key' });
    const again = await client.publish('chat:dedupe', { n: 1 }, { idempotencyKey: 'same-key' });
    assert.deepEqual(again, first);
    const history = await server.history('chat:dedupe');
    assert.equal(history.publications.length, 1);
  } finally {
    client.close();
  }
});

test('a publish whose reply is lost with the link is retried after reconnecting and stored once', async (t) => {
  if (skipReason) return t.skip(skipReason);
  const client = createClient({
    url: proxy.url,
    transports: ['websocket'],
    environment: null,
    backoff: { initialMs: 5, maxMs: 20 },
  });
  try {
    await waitForState(client, isConnected);
    proxy.setLatency(300); // the reply is still on its way when the link is cut
    const result = client.publish('chat:ambiguous', { n: 1 });
    await waitFor(async () => (await server.history('chat:ambiguous')).publications?.length === 1, {
      message: 'the server stored the publication',
    });
    proxy.cut();
    proxy.setLatency(0);
    const position = await result;
    const history = await server.history('chat:ambiguous');
    assert.equal(history.publications.length, 1);
    assert.equal(position.offset, history.publications[0].offset);
    assert.ok(client.stats.connects >= 2);
  } finally {
    proxy.setLatency(0);
    client.close();
  }
});

// Live-app primitives against a real server, each over WebSocket, SSE and long-poll: presence after an abrupt
// disconnect, typing, receipts after a reconnect, MessagePack, batched frames, and max rate on a conflating
// namespace. Waits are on conditions; the only clock-derived assertion is the max-rate bound, which is computed from
// the time the test actually observed.

import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, typingIndicator } from '../dist/switchboard.mjs';
import { startServer, request, API_KEY, mintToken } from './helpers/server.mjs';
import { startLinkFault } from '../../../tools/linkfault/linkfault.mjs';
import { waitFor } from './helpers/wait.mjs';

const TRANSPORTS = ['websocket', 'sse', 'poll'];

let server;
let proxy;
const clients = [];
const proxies = [];

before(async () => {
  server = await startServer({
    settings: [
      'namespaces.room.presence=true',
      'namespaces.dm.receipts=true',
      'namespaces.ticker.conflation=true',
      // A silent peer is found out within about a second (ping every 500 ms, 500 ms to answer).
      'heartbeat.interval_ms=500',
      'heartbeat.timeout_ms=500',
    ],
  });
  proxy = await startLinkFault({ target: server.url });
});

after(async () => {
  for (const client of clients) client.close();
  for (const extra of proxies) await extra.close();
  await proxy?.close();
  await server?.stop();
});

// SSE and poll clients go through the proxy (see presence.test.mjs: Node's WebSocket would reuse their pooled
// connections for upgrades, which the server answers with 307).
const open = (transport, options = {}) => {
  const client = createClient({
    url: transport === 'websocket' ? server.url : proxy.url,
    transports: [transport],
    environment: null,
    backoff: { initialMs: 5, maxMs: 50 },
    ...options,
  });
  clients.push(client);
  return client;
};

const subscribed = (subscription) => waitFor(() => subscription.state === 'subscribed', { message: `${subscription.channel} subscribed` });

async function apiPublish(body) {
  const response = await request(`${server.url}/api/publish`, {
    method: 'POST',
    headers: { authorization: `apikey ${API_KEY}` },
    body: JSON.stringify(body),
  });
  const parsed = await response.json();
  if (response.status !== 200) throw new Error(`publish failed: ${response.status} ${JSON.stringify(parsed)}`);
  return parsed;
}

for (const transport of TRANSPORTS) {
  test(`${transport}: presence converges after another client vanishes without closing (silent link)`, async () => {
    const channel = `room:vanish-${transport}`;
    const alice = open(transport, { info: { name: 'Alice' } });
    const watching = alice.subscribe(channel, {});
    await waitFor(() => watching.presence?.clients === 1, { message: 'own presence' });

    // Bob's link goes through a proxy of his own that the test stalls: no close, no reset, just silence.
    const bobLink = await startLinkFault({ target: server.url });
    proxies.push(bobLink);
    const bob = createClient({ url: bobLink.url, transports: ['websocket'], environment: null, info: { name: 'Bob' }, heartbeatGraceMs: 60000 });
    clients.push(bob);
    bob.subscribe(channel, {});
    await waitFor(() => watching.presence?.clients === 2, { message: 'Bob joined' });
    const bobFirstClient = bob.state.clientId;

    bobLink.setStalled(true);
    await waitFor(() => watching.presence?.clients === 1, { timeout: 10000, message: 'Bob left after the heartbeat timeout' });
    assert.deepEqual(watching.presence.members.map((member) => member.info.name), ['Alice']);

    // The link comes back: Bob reconnects as a new connection and the list is exact again, without the old one.
    bobLink.setStalled(false);
    bobLink.cut();
    await waitFor(() => watching.presence?.clients === 2, { timeout: 10000, message: 'Bob back' });
    const clientsPresent = watching.presence.members.map((member) => member.client);
    assert.ok(!clientsPresent.includes(bobFirstClient), 'the vanished connection is not listed');
    assert.ok(clientsPresent.includes(bob.state.clientId));
    bob.close();
    alice.close();
  });

  test(`${transport}: typing shows who types to the others and disappears when they stop`, async () => {
    const channel = `room:typing-${transport}`;
    const alice = open(transport, { token: mintToken({ sub: 'alice' }) });
    const bob = open('websocket', { token: mintToken({ sub: 'bob' }) });
    const aliceTyping = typingIndicator(alice, channel);
    const bobSees = typingIndicator(bob, channel, { expireAfterMs: 60000 });
    // Signals need the subscription on the server: wait for both sides before typing.
    const aliceSubscription = alice.subscribe(channel, {});
    const bobSubscription = bob.subscribe(channel, {});
    await subscribed(aliceSubscription);
    await subscribed(bobSubscription);
    aliceTyping.typing();
    await waitFor(() => bobSees.typists.length === 1, { message: 'Bob sees Alice typing' });
    assert.equal(bobSees.typists[0].user, 'alice');
    assert.deepEqual(aliceTyping.typists, [], 'Alice does not see herself');
    aliceTyping.stop();
    await waitFor(() => bobSees.typists.length === 0, { message: 'Alice stopped' });
    aliceTyping.close();
    bobSees.close();
    alice.close();
    bob.close();
  });

  test(`${transport}: a recipient that was away recovers a publication, acknowledges it, and the publisher sees delivered then read`, async () => {
    const channel = `dm:receipts-${transport}`;
    const alice = open('websocket', { token: mintToken({ sub: 'alice' }) });
    const bob = open(transport, { token: mintToken({ sub: 'bob' }) });
    const receipts = [];
    const received = [];
    const aliceSubscription = alice.subscribe(channel, { onReceipt: (receipt) => receipts.push(receipt) });
    const bobSubscription = bob.subscribe(channel, { onPublication: (publication) => received.push(publication) });
    await subscribed(aliceSubscription);
    await subscribed(bobSubscription);

    bob.disconnect();
    const { offset } = await alice.publish(channel, { text: 'are you there?' }, { receipts: true });
    assert.equal((await alice.receipts(channel, offset)).delivered, 0);

    bob.connect();
    await waitFor(() => received.length === 1, { message: 'Bob recovered the publication' });
    assert.equal(received[0].receipts, true);
    assert.equal(received[0].sender, 'alice');
    await waitFor(() => receipts.length === 1, { message: 'delivered receipt' });
    assert.deepEqual(receipts[0], { channel, offset, user: 'bob', status: 'delivered' });

    await bob.markRead(channel, offset);
    await waitFor(() => receipts.length === 2, { message: 'read receipt' });
    assert.equal(receipts[1].status, 'read');
    const record = await alice.receipts(channel, offset);
    assert.deepEqual(record.recipients, [{ user: 'bob', delivered: true, read: true }]);
    assert.equal(bob.stats.acksSent, 2);
    alice.close();
    bob.close();
  });

  test(`${transport}: with maxRate on a conflating channel a steady stream arrives at that rate, current, with skips announced`, async () => {
    const channel = `ticker:stream-${transport}`;
    const maxRate = 10;
    const client = open(transport);
    const prices = [];
    const subscription = client.subscribe(channel, { maxRate, onPublication: (publication) => prices.push(publication) });
    await subscribed(subscription);
    // Publish one price at a time for at least 1.5 s: a stream, not a single burst, so the rate is what limits.
    const started = Date.now();
    let published = 0;
    while (Date.now() - started < 1500) await apiPublish({ channel, data: { price: ++published }, key: 'EURUSD' });
    await waitFor(() => prices.at(-1)?.data.price === published, { message: 'the latest price' });
    const elapsedSeconds = (Date.now() - started) / 1000;
    // The server's bound: at most maxRate pushes per second, plus the first one, which goes out at once.
    assert.ok(prices.length <= Math.ceil(maxRate * elapsedSeconds) + 1, `${prices.length} pushes in ${elapsedSeconds} s`);
    assert.ok(prices.length >= 2 && prices.length < published, `conflated: ${prices.length} of ${published}`);
    const offsets = prices.map((publication) => publication.offset);
    assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), 'offsets increase');
    assert.ok(prices.some((publication) => publication.afterSkip), 'skips are marked');
    assert.equal(client.stats.gapsSeen, 0, 'every skip was announced');
    console.log(`# measured ${transport}: ${published} publications → ${prices.length} pushes in ${elapsedSeconds.toFixed(2)} s (${(prices.length / elapsedSeconds).toFixed(1)}/s) at maxRate ${maxRate}`);
    client.close();
  });

  test(`${transport}: binary data published over MessagePack arrives as {"$binary"} on this transport, and ours as bytes there`, async () => {
    const channel = `bytes:${transport}`;
    const packer = open('websocket', { format: 'msgpack' });
    const other = open(transport, { format: 'msgpack' }); // SSE and poll ignore the option and speak JSON
    const seenByPacker = [];
    const seenByOther = [];
    const a = packer.subscribe(channel, { onPublication: (publication) => seenByPacker.push(publication.data) });
    const b = other.subscribe(channel, { onPublication: (publication) => seenByOther.push(publication.data) });
    await subscribed(a);
    await subscribed(b);
    await packer.publish(channel, { bytes: new Uint8Array([0, 1, 254, 255]), n: 1.5, big: 2 ** 40 });
    await other.publish(channel, { bytes: new Uint8Array([9, 8]) });
    await waitFor(() => seenByPacker.length === 2 && seenByOther.length === 2, { message: 'both publications on both sides' });
    assert.deepEqual(seenByPacker[0], { bytes: new Uint8Array([0, 1, 254, 255]), n: 1.5, big: 2 ** 40 });
    assert.deepEqual(seenByPacker[1], { bytes: new Uint8Array([9, 8]) });
    if (transport === 'websocket') {
      assert.deepEqual(seenByOther, seenByPacker);
    } else {
      assert.deepEqual(seenByOther[0], { bytes: { $binary: 'AAH+/w==' }, n: 1.5, big: 2 ** 40 });
      assert.deepEqual(seenByOther[1], { bytes: { $binary: 'CQg=' } });
    }
    packer.close();
    other.close();
  });

  test(`${transport}: a burst arrives complete and in order with batching asked for in connect`, async () => {
    const channel = `news:batch-${transport}`;
    const client = open(transport);
    const received = [];
    const subscription = client.subscribe(channel, { onPublication: (publication) => received.push(publication.data.seq) });
    await subscribed(subscription);
    const publications = Array.from({ length: 300 }, (_, index) => ({ channel, data: { seq: index + 1 } }));
    await apiPublish({ publications });
    await waitFor(() => received.length === 300, { message: '300 publications' });
    assert.deepEqual(received, publications.map((publication) => publication.data.seq));
    client.close();
  });
}

/** A WebSocket that counts the frames it receives, to see batching from outside the client. */
function countingWebSocket(counter) {
  return class CountingWebSocket extends WebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => counter.frames++);
    }
  };
}

for (const format of ['json', 'msgpack']) {
  test(`websocket ${format}: a burst of publications comes in fewer frames than messages, unpacked in order`, async () => {
    const channel = `news:frames-${format}`;
    const counter = { frames: 0 };
    const client = open('websocket', { format, WebSocket: countingWebSocket(counter) });
    const received = [];
    const subscription = client.subscribe(channel, { onPublication: (publication) => received.push(publication.data.seq) });
    await subscribed(subscription);
    const framesBefore = counter.frames;
    const publications = Array.from({ length: 500 }, (_, index) => ({ channel, data: { seq: index + 1, text: 'x'.repeat(20) } }));
    await apiPublish({ publications });
    await waitFor(() => received.length === 500, { message: '500 publications' });
    const frames = counter.frames - framesBefore;
    assert.deepEqual(received, publications.map((publication) => publication.data.seq));
    assert.ok(frames < 500, `${frames} frames for 500 publications`);
    console.log(`# measured websocket ${format}: 500 publications in ${frames} frames`);
    client.close();
  });

  test(`websocket ${format}: without batchFrames every publication is a frame of its own`, async () => {
    const channel = `news:unbatched-${format}`;
    const counter = { frames: 0 };
    const client = open('websocket', { format, batchFrames: false, WebSocket: countingWebSocket(counter) });
    const received = [];
    const subscription = client.subscribe(channel, { onPublication: (publication) => received.push(publication.data.seq) });
    await subscribed(subscription);
    const framesBefore = counter.frames;
    await apiPublish({ publications: Array.from({ length: 50 }, (_, index) => ({ channel, data: { seq: index + 1 } })) });
    await waitFor(() => received.length === 50, { message: '50 publications' });
    assert.equal(counter.frames - framesBefore, 50);
    client.close();
  });
}

test('msgpack: the WebSocket agrees on switchboard.v1.msgpack and a JSON publisher reaches a MessagePack subscriber unchanged', async () => {
  const counter = { frames: 0 };
  let protocol = null;
  class Observed extends countingWebSocket(counter) {
    constructor(...args) {
      super(...args);
      this.addEventListener('open', () => (protocol = this.protocol));
    }
  }
  const packer = open('websocket', { format: 'msgpack', WebSocket: Observed });
  const received = [];
  const subscription = packer.subscribe('news:cross', { onPublication: (publication) => received.push(publication.data) });
  await subscribed(subscription);
  assert.equal(protocol, 'switchboard.v1.msgpack');
  const data = { text: 'héllo', list: [1, -2, 3.25, null, true], nested: { deep: { s: '' } }, binary: { $binary: 'AQID' } };
  await apiPublish({ channel: 'news:cross', data });
  await waitFor(() => received.length === 1, { message: 'the publication' });
  assert.deepEqual(received[0], { ...data, binary: new Uint8Array([1, 2, 3]) });
  packer.close();
});

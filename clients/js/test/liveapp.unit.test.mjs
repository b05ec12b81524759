// Typing indicators and receipt acknowledgements against the fake server and fake timers: throttling, expiry and
// queueing across reconnects are timing logic, so they are checked on a manual clock, not with sleeps.

import test from 'node:test';
import assert from 'node:assert/strict';
import { createClient, typingIndicator, toJson, binaryOf } from '../dist/switchboard.mjs';
import { FakeServer, FakeTimers } from '../dist/testing.mjs';

function open(server, timers, options = {}) {
  return createClient({ url: 'http://fake', transports: [server.transport('websocket')], timers, environment: null, ...options });
}

const typingSignalsSent = (server) =>
  server.received.filter(({ command }) => command.cmd === 'signal' && command.type === 'typing').map(({ command }) => command.data.typing);

test('typing on every keystroke sends at most one signal per interval, and the latest state trails', async () => {
  const server = new FakeServer();
  const timers = new FakeTimers();
  const client = open(server, timers, { token: 'alice' });
  const typing = typingIndicator(client, 'room:1', { timers, intervalMs: 1000 });
  await timers.advance(0);
  for (let keystroke = 0; keystroke < 10; keystroke++) {
    typing.typing();
    await timers.advance(100);
  }
  // Keystrokes from 0 to 900 ms: one signal at once, one when the first interval ends.
  assert.deepEqual(typingSignalsSent(server), [true, true]);
  typing.stop();
  await timers.advance(1000);
  assert.deepEqual(typingSignalsSent(server), [true, true, false]);
  await timers.advance(5000);
  assert.equal(typingSignalsSent(server).length, 3, 'nothing more once the state went out');
  typing.close();
  client.close();
});

test('stop() without typing first sends nothing', async () => {
  const server = new FakeServer();
  const timers = new FakeTimers();
  const client = open(server, timers);
  const typing = typingIndicator(client, 'room:1', { timers });
  await timers.advance(0);
  typing.stop();
  await timers.advance(2000);
  assert.deepEqual(typingSignalsSent(server), []);
  typing.close();
  client.close();
});

test('a remote typist appears, stays while signals keep coming, and expires after the configured silence', async () => {
  const server = new FakeServer();
  const timers = new FakeTimers();
  const alice = open(server, timers, { token: 'alice' });
  const bob = open(server, timers, { token: 'bob' });
  const aliceTyping = typingIndicator(alice, 'room:1', { timers, intervalMs: 1000 });
  const changes = [];
  const bobSees = typingIndicator(bob, 'room:1', { timers, expireAfterMs: 3000, onChange: (typists) => changes.push(typists) });
  await timers.advance(0);
  aliceTyping.typing();
  await timers.advance(0);
  assert.deepEqual(bobSees.typists.map((typist) => typist.user), ['alice']);
  assert.equal(bobSees.typists[0].client, alice.state.clientId);
  // Alice keeps typing for 5 s: her signals (one per second) keep the indicator alive past 3 s.
  for (let second = 0; second < 5; second++) {
    aliceTyping.typing();
    await timers.advance(1000);
  }
  assert.equal(bobSees.typists.length, 1);
  const typistsWhileTyping = bobSees.typists;
  // Silence: the last signal went out at 5 s (the trailing one), so the indicator ends 3 s after it.
  await timers.advance(2999);
  assert.equal(bobSees.typists, typistsWhileTyping, 'same snapshot until it changes');
  await timers.advance(1);
  assert.deepEqual(bobSees.typists, []);
  assert.deepEqual(changes.map((typists) => typists.length), [1, 0]);
  aliceTyping.close();
  bobSees.close();
  alice.close();
  bob.close();
  assert.equal(timers.pending, 0, 'no timer left behind');
});

test('the local connection is never listed as typing', async () => {
  const server = new FakeServer();
  const timers = new FakeTimers();
  const alice = open(server, timers, { token: 'alice' });
  const typing = typingIndicator(alice, 'room:1', { timers });
  await timers.advance(0);
  typing.typing();
  await timers.advance(0);
  assert.equal(typingSignalsSent(server).length, 1);
  assert.deepEqual(typing.typists, []);
  typing.close();
  alice.close();
});

test('stop() removes the typist at the receivers at once, without waiting for the expiry', async () => {
  const server = new FakeServer();
  const timers = new FakeTimers();
  const alice = open(server, timers, { token: 'alice' });
  const bob = open(server, timers, { token: 'bob' });
  const aliceTyping = typingIndicator(alice, 'room:1', { timers, intervalMs: 1000 });
  const bobSees = typingIndicator(bob, 'room:1', { timers, expireAfterMs: 10000 });
  await timers.advance(0);
  aliceTyping.typing();
  await timers.advance(1000);
  assert.equal(bobSees.typists.length, 1);
  aliceTyping.stop();
  await timers.advance(0);
  assert.deepEqual(bobSees.typists, []);
  for (const closable of [aliceTyping, bobSees, alice, bob]) closable.close();
});

const acksSent = (server) =>
  server.received.filter(({ command }) => command.cmd === 'ack').map(({ command }) => `${command.offset}:${command.status ?? 'delivered'}`);

test('a publication that asks for receipts is acknowledged as delivered automatically, once', async () => {
  const server = new FakeServer();
  const timers = new FakeTimers();
  const bob = open(server, timers, { token: 'bob' });
  const received = [];
  bob.subscribe('dm:1', { onPublication: (publication) => received.push(publication) });
  await timers.advance(0);
  server.publish('dm:1', { text: 'hi' }, undefined, 'alice', true);
  server.publish('dm:1', { text: 'no receipts' }, undefined, 'alice', false);
  await timers.advance(0);
  assert.deepEqual(received.map((publication) => publication.receipts), [true, undefined]);
  assert.deepEqual(acksSent(server), ['1:delivered']);
  assert.equal(bob.stats.acksSent, 1);
  bob.close();
});

test('neither the publisher nor an anonymous subscriber acknowledges', async () => {
  const server = new FakeServer();
  const timers = new FakeTimers();
  const alice = open(server, timers, { token: 'alice' });
  const anonymous = open(server, timers);
  alice.subscribe('dm:1', {});
  anonymous.subscribe('dm:1', {});
  await timers.advance(0);
  await alice.publish('dm:1', 'mine', { receipts: true });
  await timers.advance(0);
  assert.deepEqual(acksSent(server), []);
  alice.close();
  anonymous.close();
});

test('an ack whose reply was lost with the link is sent again after reconnecting', async () => {
  const server = new FakeServer();
  const timers = new FakeTimers();
  const bob = open(server, timers, { token: 'bob', backoff: { initialMs: 100, maxMs: 100 } });
  bob.subscribe('dm:1', {});
  await timers.advance(0);
  server.stalled = true; // the ack arrives but is never answered
  server.publish('dm:1', 'hi', undefined, 'alice', true);
  await timers.advance(0);
  assert.deepEqual(acksSent(server), ['1:delivered']);
  server.stalled = false;
  server.disconnectAll();
  await timers.advance(200);
  assert.equal(bob.state.status, 'connected');
  assert.deepEqual(acksSent(server), ['1:delivered', '1:delivered']);
  assert.equal(bob.stats.acksSent, 1);
  bob.close();
});

test('markRead while offline is queued, sent once connected, and resolves when the server recorded it', async () => {
  const server = new FakeServer();
  const timers = new FakeTimers();
  const bob = open(server, timers, { token: 'bob', autoConnect: false });
  server.publish('dm:1', 'hi', undefined, 'alice', true);
  let resolved = false;
  const read = bob.markRead('dm:1', 1).then(() => (resolved = true));
  await timers.advance(0);
  assert.deepEqual(acksSent(server), []);
  bob.connect();
  await timers.advance(0);
  await read;
  assert.equal(resolved, true);
  assert.deepEqual(acksSent(server), ['1:read']);
  bob.close();
});

test('a read mark replaces a delivered ack still waiting for the connection', async () => {
  const server = new FakeServer();
  const timers = new FakeTimers();
  const bob = open(server, timers, { token: 'bob', backoff: { initialMs: 100, maxMs: 100 } });
  bob.subscribe('dm:1', {});
  await timers.advance(0);
  server.stalled = true;
  server.publish('dm:1', 'hi', undefined, 'alice', true);
  await timers.advance(0);
  server.stalled = false;
  server.refusing.add('websocket');
  server.disconnectAll();
  await timers.advance(0);
  const read = bob.markRead('dm:1', 1);
  server.refusing.delete('websocket');
  await timers.advance(200);
  await read;
  assert.deepEqual(acksSent(server), ['1:delivered', '1:read']);
  bob.close();
});

test('markRead of a publication without receipts rejects with the server refusal', async () => {
  const server = new FakeServer();
  const timers = new FakeTimers();
  const bob = open(server, timers, { token: 'bob' });
  server.publish('dm:1', 'hi');
  await timers.advance(0);
  await assert.rejects(bob.markRead('dm:1', 1), { code: 134 });
  bob.close();
});

test('the publisher gets receipt events and the receipt record', async () => {
  const server = new FakeServer();
  const timers = new FakeTimers();
  const alice = open(server, timers, { token: 'alice' });
  const bob = open(server, timers, { token: 'bob' });
  const receipts = [];
  alice.subscribe('dm:1', { onReceipt: (receipt) => receipts.push(receipt) });
  bob.subscribe('dm:1', {});
  await timers.advance(0);
  const { offset } = await alice.publish('dm:1', 'hi', { receipts: true });
  await timers.advance(0);
  await bob.markRead('dm:1', offset);
  await timers.advance(0);
  assert.deepEqual(receipts.map((receipt) => `${receipt.user}:${receipt.status}`), ['bob:delivered', 'bob:read']);
  const record = await alice.receipts('dm:1', offset);
  assert.deepEqual(record.recipients, [{ user: 'bob', delivered: true, read: true }]);
  assert.equal(record.truncated, false);
  alice.close();
  bob.close();
});

test('JSON transports carry Uint8Array data as {"$binary": base64}, and binaryOf reads it back', () => {
  assert.equal(toJson({ data: new Uint8Array([0, 255, 7]) }), '{"data":{"$binary":"AP8H"}}');
  assert.deepEqual(binaryOf({ $binary: 'AP8H' }), new Uint8Array([0, 255, 7]));
  assert.equal(binaryOf({ $binary: 'AP8H', other: 1 }), null);
});

test('without intervalMs the typing indicator throttles to the interval the subscribe reply advertised', async () => {
  const server = new FakeServer({ signalIntervalMs: 250 });
  const timers = new FakeTimers();
  const client = open(server, timers, { token: 'alice' });
  const typing = typingIndicator(client, 'room:1', { timers });
  await timers.advance(0);
  assert.equal(client.signalIntervalMs('room:1'), 250);
  for (let keystroke = 0; keystroke < 10; keystroke++) {
    typing.typing();
    await timers.advance(100);
  }
  // Keystrokes from 0 to 900 ms under a 250 ms interval: at once, then at 250, 500, 750 and 1000 ms.
  assert.deepEqual(typingSignalsSent(server), [true, true, true, true, true]);
  typing.close();
  client.close();
});

test('the fake server keeps presence info per channel and answers history pages like the real one', async () => {
  const server = new FakeServer({ presence: true });
  const timers = new FakeTimers();
  const alice = open(server, timers, { token: 'alice', info: { name: 'Alice' } });
  const bob = open(server, timers, { token: 'bob' });
  const seen = bob.subscribe('room:1', {});
  alice.subscribe('room:1', {});
  await timers.advance(0);
  await alice.updatePresence('room:1', { name: 'Alice', away: true });
  await timers.advance(0);
  const member = seen.presence.members.find((item) => item.user === 'alice');
  assert.deepEqual(member.info, { name: 'Alice', away: true });
  for (let n = 1; n <= 5; n++) await alice.publish('room:1', { n });
  const newest = await bob.history('room:1', { latest: true, limit: 2 });
  assert.deepEqual(newest.publications.map((publication) => publication.offset), [4, 5]);
  const earlier = await bob.history('room:1', { before: 4, limit: 2 });
  assert.deepEqual(earlier.publications.map((publication) => publication.data.n), [2, 3]);
  alice.close();
  bob.close();
});

// Presence (snapshot, joins and leaves, paging) and signals against a real server.

import test from 'node:test';
import assert from 'node:assert/strict';
import { NotConnectedError } from '../dist/switchboard.mjs';
import { useHub } from './helpers/hub.mjs';
import { waitFor, waitForState, isConnected } from './helpers/wait.mjs';

const hub = useHub({ settings: ['namespaces.room.presence=true', 'namespaces.room.signal_interval_ms=0'] });
const open = hub.open;

for (const transport of ['websocket', 'sse', 'poll']) {
  test(`${transport}: a subscriber sees the member list with infos, kept exact by joins and leaves`, async () => {
    const channel = `room:${transport}`;
    const alice = open({ transports: [transport], info: { name: 'Alice' } });
    const watched = [];
    const subscription = alice.subscribe(channel, { onPresence: (presence) => watched.push(presence) });
    await waitFor(() => subscription.presence?.clients === 1, { message: 'own presence' });
    const bob = open({ transports: ['websocket'], info: { name: 'Bob' } });
    bob.subscribe(channel, {});
    await waitFor(() => subscription.presence?.clients === 2, { message: 'Bob joined' });
    const names = subscription.presence.members.map((member) => member.info.name).sort();
    assert.deepEqual(names, ['Alice', 'Bob']);
    assert.equal(subscription.presence.complete, true);
    bob.close();
    await waitFor(() => subscription.presence?.clients === 1, { message: 'Bob left' });
    assert.equal(subscription.presence.members[0].info.name, 'Alice');
    assert.ok(watched.length >= 3);
    alice.close();
  });
}

test('signals reach every subscriber of the channel, the sender included, with the sender client id', async () => {
  const alice = open();
  const bob = open();
  const seenByAlice = [];
  const seenByBob = [];
  const a = alice.subscribe('room:signals', { onSignal: (signal) => seenByAlice.push(signal) });
  const b = bob.subscribe('room:signals', { onSignal: (signal) => seenByBob.push(signal) });
  await waitFor(() => a.state === 'subscribed' && b.state === 'subscribed', { message: 'both subscribed' });
  const answer = await alice.signal('room:signals', 'typing', { on: true });
  assert.equal(answer.coalesced, false);
  await waitFor(() => seenByAlice.length === 1 && seenByBob.length === 1, { message: 'the signal on both sides' });
  assert.equal(seenByBob[0].type, 'typing');
  assert.deepEqual(seenByBob[0].data, { on: true });
  assert.equal(seenByBob[0].client, alice.state.clientId);
  alice.close();
  bob.close();
});

test('a signal is not queued while offline: it rejects with NotConnectedError', async () => {
  const client = open({ autoConnect: false });
  await assert.rejects(client.signal('room:x', 'typing'), NotConnectedError);
  client.close();
});

test('a presence channel larger than one snapshot page is completed with presence commands', async () => {
  const crowd = [];
  for (let i = 0; i < 104; i++) crowd.push(open({ info: { i } }));
  try {
    const subscriptions = crowd.map((client) => client.subscribe('room:crowd', {}));
    await waitFor(() => subscriptions.every((s) => s.state === 'subscribed'), { timeout: 20000, message: 'crowd subscribed' });
    const watcher = open();
    const subscription = watcher.subscribe('room:crowd', {});
    await waitFor(() => subscription.presence?.complete && subscription.presence.clients === 105, {
      timeout: 10000,
      message: 'the whole member list',
    });
    assert.equal(subscription.presence.members.length, 105);
    const page = await watcher.presence('room:crowd', { limit: 10 });
    assert.equal(page.members.length, 10);
    assert.equal(typeof page.next, 'string');
    watcher.close();
  } finally {
    for (const client of crowd) client.close();
  }
});

for (const transport of ['websocket', 'sse']) {
  test(`${transport}: updatePresence changes this connection's info for the others, and survives a reconnect`, async () => {
    const channel = `room:update-${transport}`;
    const alice = open({ transports: [transport], info: { name: 'Alice' } });
    const bob = open({ transports: ['websocket'] });
    const mine = alice.subscribe(channel, {});
    const theirs = bob.subscribe(channel, {});
    await waitFor(() => theirs.presence?.clients === 2 && mine.state === 'subscribed', { message: 'both present' });
    const aliceId = alice.state.clientId;
    const infoOfAlice = () => theirs.presence?.members.find((member) => member.client === alice.state.clientId)?.info;
    await alice.updatePresence(channel, { name: 'Alice', status: 'typing' });
    await waitFor(() => infoOfAlice()?.status === 'typing', { message: "Bob sees Alice's new info" });
    // A reconnect (new client id) joins again with the channel's info, not the connection's.
    alice.disconnect();
    await waitFor(() => theirs.presence?.clients === 1, { message: 'Alice left' });
    alice.connect();
    await waitFor(() => alice.state.status === 'connected' && alice.state.clientId !== aliceId && theirs.presence?.clients === 2, {
      message: 'Alice back',
    });
    await waitFor(() => infoOfAlice()?.status === 'typing', { message: 'the info came back with the resubscribe' });
    // null clears it.
    await alice.updatePresence(channel, null);
    await waitFor(() => theirs.presence.members.some((member) => member.client === alice.state.clientId && member.info === undefined), {
      message: 'cleared info',
    });
    alice.close();
    bob.close();
  });
}

test('updatePresence on a channel without a subscription is refused with 109', async () => {
  const client = open();
  await waitForState(client, isConnected);
  await assert.rejects(client.updatePresence('room:none', { a: 1 }), (error) => error.code === 109);
  client.close();
});

test('the subscribe reply tells the client the namespace signal interval', async () => {
  const client = open();
  const subscription = client.subscribe('room:interval', {});
  await waitFor(() => subscription.state === 'subscribed', { message: 'subscribed' });
  assert.equal(client.signalIntervalMs('room:interval'), 0);
  const chat = client.subscribe('chat:interval', {});
  await waitFor(() => chat.state === 'subscribed', { message: 'subscribed' });
  assert.equal(client.signalIntervalMs('chat:interval'), 1000);
  client.close();
});

test('joinPresence: false watches the presence of a channel without joining it; a joining listener joins the shared subscription', async () => {
  const alice = open({ info: { name: 'Alice' } });
  const watcher = open();
  const seenByAlice = alice.subscribe('room:watch', {});
  await waitFor(() => seenByAlice.presence?.clients === 1, { message: 'Alice present' });
  const watching = watcher.subscribe('room:watch', { joinPresence: false });
  await waitFor(() => watching.presence?.clients === 1 && watching.presence.members[0].info?.name === 'Alice', { message: 'the watcher sees Alice' });
  const bob = open();
  bob.subscribe('room:watch', {});
  await waitFor(() => watching.presence?.clients === 2 && seenByAlice.presence?.clients === 2, { message: 'both see Bob join' });
  assert.deepEqual(seenByAlice.presence.members.map((member) => member.client).sort(), [alice.state.clientId, bob.state.clientId].sort(), 'Alice sees Bob, not the watcher');
  // A second listener that joins: the shared subscription is taken again, joining, from its position.
  const joining = watcher.subscribe('room:watch', {});
  await waitFor(() => seenByAlice.presence?.clients === 3, { message: 'the watcher joined' });
  joining.unsubscribe();
  await waitFor(() => seenByAlice.presence?.clients === 2, { message: 'watching only again' });
  // The shared subscription is taken again without joining: Alice can see the leave before that reply arrives.
  await waitFor(() => watching.state === 'subscribed', { message: 'the watcher subscribed again' });
  await assert.rejects(watcher.updatePresence('room:watch', {}), (error) => error.code === 109);
  for (const client of [alice, watcher, bob]) client.close();
});

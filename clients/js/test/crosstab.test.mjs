// Tabs sharing one connection (opt-in `shareAcrossTabs`): Node's BroadcastChannel links the "tabs" of one test,
// FakeLocks stands in for navigator.locks, and the fake server counts connections.

import test from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '../dist/switchboard.mjs';
import { FakeServer, FakeLocks, flushMicrotasks } from '../dist/testing.mjs';
import { waitFor } from './helpers/wait.mjs';

let run = 0;

function openTabs(count, { server = new FakeServer(), locks = new FakeLocks() } = {}) {
  const url = `http://fake-${++run}`;
  const tabs = [];
  const open = () => {
    const tab = createClient({
      url,
      transports: [server.transport('websocket')],
      shareAcrossTabs: true,
      locks,
      environment: null,
      backoff: { initialMs: 5, maxMs: 20 },
    });
    tabs.push(tab);
    return tab;
  };
  for (let i = 0; i < count; i++) open();
  return { server, tabs, open, closeAll: () => tabs.forEach((tab) => tab.close()) };
}

const collect = () => {
  const received = [];
  return { received, onPublication: (p) => received.push(p.data) };
};

test('tabs of one origin hold one server connection, and every tab gets every publication', async () => {
  const { server, tabs, closeAll } = openTabs(5);
  try {
    const copies = tabs.map(() => collect());
    tabs.forEach((tab, i) => tab.subscribe('news', copies[i]));
    await waitFor(() => tabs.every((tab) => tab.state.status === 'connected'), { message: 'all tabs connected' });
    await waitFor(() => server.subscriberCount('news') === 1, { message: 'the shared subscription' });
    assert.equal(server.connections.size, 1);
    assert.equal(tabs.filter((tab) => tab.isLeader).length, 1);
    for (let seq = 1; seq <= 5; seq++) server.publish('news', seq);
    await waitFor(() => copies.every((copy) => copy.received.length === 5), { message: 'five publications in every tab' });
    for (const copy of copies) assert.deepEqual(copy.received, [1, 2, 3, 4, 5]);
  } finally {
    closeAll();
  }
});

test('a follower tab publishes through the leader and gets the position back', async () => {
  const { server, tabs, closeAll } = openTabs(2);
  try {
    await waitFor(() => tabs.every((tab) => tab.state.status === 'connected'), { message: 'connected' });
    const follower = tabs.find((tab) => !tab.isLeader);
    const position = await follower.publish('chat', { text: 'from a follower' });
    assert.equal(position.offset, 1);
    assert.equal(server.received.filter((r) => r.command.cmd === 'publish').length, 1);
  } finally {
    closeAll();
  }
});

test('when the leader tab closes another takes over, and the stream continues with nothing lost or repeated', async () => {
  const { server, tabs, closeAll } = openTabs(3);
  try {
    const copies = tabs.map(() => collect());
    tabs.forEach((tab, i) => tab.subscribe('news', copies[i]));
    await waitFor(() => server.subscriberCount('news') === 1, { message: 'subscribed' });
    for (let seq = 1; seq <= 5; seq++) server.publish('news', seq);
    await waitFor(() => copies.every((copy) => copy.received.length === 5), { message: 'first five' });
    const leaderIndex = tabs.findIndex((tab) => tab.isLeader);
    tabs[leaderIndex].close();
    for (let seq = 6; seq <= 10; seq++) server.publish('news', seq); // published while nobody leads
    const survivors = copies.filter((_, i) => i !== leaderIndex);
    await waitFor(() => survivors.every((copy) => copy.received.length >= 10), { message: 'ten in every surviving tab' });
    for (const copy of survivors) assert.deepEqual(copy.received, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(tabs.filter((tab) => tab.isLeader).length, 1);
    await waitFor(() => server.connections.size === 1, { message: 'one connection again' });
  } finally {
    closeAll();
  }
});

test('a publish in flight when the leader closes is re-sent to the next leader and stored once', async () => {
  const { server, tabs, closeAll } = openTabs(2);
  try {
    await waitFor(() => tabs.every((tab) => tab.state.status === 'connected'), { message: 'connected' });
    const leader = tabs.find((tab) => tab.isLeader);
    const follower = tabs.find((tab) => !tab.isLeader);
    server.stalled = true; // the leader's connection takes the publish but never answers
    const result = follower.publish('chat', 'once');
    await waitFor(() => server.received.some((r) => r.command.cmd === 'publish'), { message: 'publish reached the server' });
    const sent = server.received.find((r) => r.command.cmd === 'publish').command;
    server.publish('chat', sent.data, sent.idempotencyKey); // what the server stored before the answer was lost
    server.stalled = false;
    leader.close();
    const position = await result;
    assert.equal(position.offset, 1);
    assert.ok(follower.isLeader);
  } finally {
    closeAll();
  }
});

test('the shared server subscription ends when the last tab that wanted it leaves', async () => {
  const { server, tabs, closeAll } = openTabs(3);
  try {
    const subscriptions = tabs.map((tab) => tab.subscribe('news', {}));
    await waitFor(() => server.subscriberCount('news') === 1, { message: 'subscribed' });
    const followers = tabs.map((tab, i) => [tab, i]).filter(([tab]) => !tab.isLeader);
    subscriptions[followers[0][1]].unsubscribe();
    followers[1][0].close();
    const leaderIndex = tabs.findIndex((tab) => tab.isLeader);
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(server.subscriberCount('news'), 1);
    subscriptions[leaderIndex].unsubscribe();
    await waitFor(() => server.subscriberCount('news') === 0, { message: 'unsubscribed on the server' });
  } finally {
    closeAll();
  }
});

test('a tab opened after the shared connection is up reports it connected and receives publications', async () => {
  const { server, tabs, open, closeAll } = openTabs(1);
  try {
    await waitFor(() => tabs[0].state.status === 'connected', { message: 'first tab connected' });
    const late = open();
    const copy = collect();
    late.subscribe('news', copy);
    await waitFor(() => late.state.status === 'connected', { message: 'late tab connected' });
    await waitFor(() => server.subscriberCount('news') === 1, { message: 'subscribed' });
    server.publish('news', 1);
    await waitFor(() => copy.received.length === 1, { message: 'publication in the late tab' });
    assert.equal(server.connections.size, 1);
  } finally {
    closeAll();
  }
});

test('a follower tab signals, pages presence, marks read, reads receipts and history and updates presence through the leader', async () => {
  const server = new FakeServer({ presence: true });
  const locks = new FakeLocks();
  const url = `http://fake-${++run}`;
  const tabs = [0, 1].map(() =>
    createClient({ url, token: 'bob', transports: [server.transport('websocket')], shareAcrossTabs: true, locks, environment: null }),
  );
  const alice = createClient({ url: 'http://fake-alice', token: 'alice', transports: [server.transport('websocket')], environment: null });
  try {
    await waitFor(() => tabs.every((tab) => tab.state.status === 'connected'), { message: 'tabs connected' });
    const follower = tabs.find((tab) => !tab.isLeader);
    const signals = [];
    const receipts = [];
    const followerSubscription = follower.subscribe('dm:1', { onSignal: (signal) => signals.push(signal), onReceipt: (receipt) => receipts.push(receipt) });
    const aliceSubscription = alice.subscribe('dm:1', {});
    await waitFor(() => followerSubscription.state === 'subscribed' && aliceSubscription.state === 'subscribed', { message: 'subscribed' });

    assert.deepEqual(await follower.signal('dm:1', 'typing', { typing: true }), { coalesced: false });
    await waitFor(() => signals.length === 1, { message: 'the signal back in the follower' });
    const page = await follower.presence('dm:1');
    assert.equal(page.clients, 2);

    const fromAlice = await alice.publish('dm:1', 'read me', { receipts: true });
    await follower.markRead('dm:1', fromAlice.offset);
    const acks = server.received.filter(({ command }) => command.cmd === 'ack').map(({ command }) => command.status ?? 'delivered');
    assert.deepEqual(acks, ['delivered', 'read']);

    const fromFollower = await follower.publish('dm:1', 'mine', { receipts: true });
    await alice.markRead('dm:1', fromFollower.offset);
    await waitFor(() => receipts.length === 2, { message: 'receipts relayed to the follower' });
    const record = await follower.receipts('dm:1', fromFollower.offset);
    assert.deepEqual(record.recipients, [{ user: 'alice', delivered: true, read: true }]);
    await assert.rejects(follower.markRead('dm:1', 999), { code: 134 });

    // History pages and presence info go through the leader too.
    const newest = await follower.history('dm:1', { latest: true, limit: 1 });
    assert.deepEqual(newest.publications.map((publication) => publication.data), ['mine']);
    await follower.updatePresence('dm:1', { status: 'away' });
    await waitFor(() => aliceSubscription.presence?.members.some((member) => member.user === 'bob' && member.info?.status === 'away'), {
      message: "alice sees the shared connection's new info",
    });
  } finally {
    tabs.forEach((tab) => tab.close());
    alice.close();
  }
});

test('a tab created with autoConnect: false takes no part (no channel, no lock) until connect(), then joins', async () => {
  const server = new FakeServer();
  const locks = new FakeLocks();
  const opened = [];
  const url = `http://fake-${++run}`;
  const options = {
    url,
    transports: [server.transport('websocket')],
    shareAcrossTabs: true,
    locks,
    environment: null,
    openChannel: (name) => {
      const channel = new BroadcastChannel(name);
      opened.push(channel);
      return channel;
    },
  };
  const idle = createClient({ ...options, autoConnect: false });
  const copy = collect();
  idle.subscribe('news', copy);
  await flushMicrotasks(); // FakeLocks grants in microtasks: an election would have happened by now
  assert.equal(opened.length, 0, 'no BroadcastChannel before connect()');
  assert.equal(idle.isLeader, false);
  assert.equal(server.connections.size, 0);

  const active = createClient(options); // another tab that does connect: it leads, unhindered by the idle one
  try {
    await waitFor(() => active.state.status === 'connected', { message: 'the active tab connected' });
    assert.equal(active.isLeader, true);
    idle.connect(); // joins as a follower and subscribes through the leader
    await waitFor(() => idle.state.status === 'connected' && server.subscriberCount('news') === 1, { message: 'the idle tab joined' });
    server.publish('news', 1);
    await waitFor(() => copy.received.length === 1, { message: 'the publication in the joined tab' });
    assert.equal(server.connections.size, 1);
  } finally {
    idle.close();
    active.close();
  }
});

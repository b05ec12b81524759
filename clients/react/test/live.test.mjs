import test from 'node:test';
import assert from 'node:assert/strict';
import { SwitchboardProvider, usePresence, usePresenceListener, useHistory, useSignal, useTyping, useReceipts, applyReceipt } from '@switchboard/react';
import { act, h, render } from './helpers/dom.mjs';
import { fakeHub } from './helpers/fake.mjs';

async function mount(hub, client, element) {
  const view = await render(h(SwitchboardProvider, { client, frames: hub.frames, timers: hub.timers }, element));
  await hub.frame();
  return view;
}

function Members({ channel }) {
  const presence = usePresence(channel);
  return h('p', null, presence ? presence.members.map((member) => member.user).sort().join(',') : 'loading');
}

test('usePresence lists the members and follows joins and leaves', async () => {
  const hub = fakeHub({ presence: true });
  const view = await mount(hub, hub.client({ token: 'alice' }), h(Members, { channel: 'room' }));
  assert.equal(view.text(), 'alice');
  const bob = hub.client({ token: 'bob' });
  const subscription = bob.subscribe('room');
  await hub.frame();
  assert.equal(view.text(), 'alice,bob');
  subscription.unsubscribe();
  await hub.frame();
  assert.equal(view.text(), 'alice');
  hub.closeAll();
});

test('usePresence with data sets this connection\'s info on the channel and updates it when data changes', async () => {
  const hub = fakeHub({ presence: true });
  const alice = hub.client({ token: 'alice', info: { status: 'connected' } });
  const bob = hub.client({ token: 'bob' });
  const watched = bob.subscribe('room');
  const infoOfAlice = () => watched.presence?.members.find((member) => member.user === 'alice')?.info;
  function Me({ status }) {
    usePresence('room', { data: { status } });
    return null;
  }
  const view = await mount(hub, alice, h(Me, { status: 'here' }));
  await hub.frame();
  assert.deepEqual(infoOfAlice(), { status: 'here' });
  await view.rerender(h(SwitchboardProvider, { client: alice, frames: hub.frames, timers: hub.timers }, h(Me, { status: 'away' })));
  await hub.frame();
  assert.deepEqual(infoOfAlice(), { status: 'away' });
  // The first info went with the subscribe (the client was still connecting); the change as an update.
  assert.deepEqual(hub.commands('subscribe').find((command) => command.info)?.info, { status: 'here' });
  assert.equal(hub.commands('presence_update').length, 1);
  // The same data again sends nothing.
  await view.rerender(h(SwitchboardProvider, { client: alice, frames: hub.frames, timers: hub.timers }, h(Me, { status: 'away' })));
  await hub.frame();
  assert.equal(hub.commands('presence_update').length, 1);
  hub.closeAll();
});

test('usePresenceListener sees the members without becoming one', async () => {
  const hub = fakeHub({ presence: true });
  const bob = hub.client({ token: 'bob' });
  const bobSees = bob.subscribe('room');
  function Watcher() {
    const presence = usePresenceListener('room');
    return h('p', null, presence ? presence.members.map((member) => member.user).sort().join(',') : 'loading');
  }
  const view = await mount(hub, hub.client({ token: 'alice' }), h(Watcher));
  await hub.frame();
  assert.equal(view.text(), 'bob');
  assert.deepEqual(bobSees.presence.members.map((member) => member.user), ['bob']);
  assert.equal(hub.commands('subscribe').find((command) => command.join === false)?.channel, 'room');
  const carol = hub.client({ token: 'carol' });
  carol.subscribe('room');
  await hub.frame();
  assert.equal(view.text(), 'bob,carol');
  hub.closeAll();
});

test('useHistory reads the newest page once connected, then earlier pages until none are left', async () => {
  const hub = fakeHub();
  const publisher = hub.client();
  for (let n = 1; n <= 5; n++) await publisher.publish('chat', { n });
  let snapshot;
  function Messages() {
    snapshot = useHistory('chat', { pageSize: 2 });
    return h('p', null, snapshot.publications.map((publication) => publication.data.n).join(','));
  }
  const view = await mount(hub, hub.client(), h(Messages));
  await hub.frame();
  assert.equal(view.text(), '4,5');
  assert.equal(snapshot.hasMore, true);
  await act(async () => snapshot.loadEarlier());
  await hub.frame();
  assert.equal(view.text(), '2,3,4,5');
  await act(async () => snapshot.loadEarlier());
  await hub.frame();
  assert.equal(view.text(), '1,2,3,4,5');
  assert.equal(snapshot.hasMore, false);
  hub.closeAll();
});

test('useSignal hands every signal to its handler and sends signals', async () => {
  const hub = fakeHub();
  const received = [];
  let send;
  function Cursor() {
    send = useSignal('doc', (signal) => received.push([signal.type, signal.data]));
    return null;
  }
  await mount(hub, hub.client(), h(Cursor));
  await send('cursor', { x: 1 });
  await hub.settle();
  assert.deepEqual(received, [['cursor', { x: 1 }]]);
  hub.closeAll();
});

function Typing({ onApi }) {
  const typing = useTyping('chat', { timeoutMs: 3000, sendIntervalMs: 1000 });
  onApi?.(typing);
  return h('p', null, typing.typing.map((member) => member.user).join(','));
}

test('useTyping shows others typing but not this connection', async () => {
  const hub = fakeHub();
  let mine;
  const view = await mount(hub, hub.client({ token: 'alice' }), h(Typing, { onApi: (api) => (mine = api) }));
  const bob = hub.client({ token: 'bob' });
  bob.subscribe('chat');
  await hub.settle();
  mine.startTyping();
  await bob.signal('chat', 'typing', { typing: true });
  await hub.frame();
  assert.equal(view.text(), 'bob');
  await bob.signal('chat', 'typing', { typing: false });
  await hub.frame();
  assert.equal(view.text(), '');
  hub.closeAll();
});

test('useTyping forgets a typer whose signals stop for longer than the timeout', async () => {
  const hub = fakeHub();
  const view = await mount(hub, hub.client({ token: 'alice' }), h(Typing));
  const bob = hub.client({ token: 'bob' });
  bob.subscribe('chat');
  await hub.settle();
  await bob.signal('chat', 'typing', { typing: true });
  await hub.frame();
  assert.equal(view.text(), 'bob');
  await hub.timers.advance(3000);
  await hub.frame();
  assert.equal(view.text(), '');
  hub.closeAll();
});

test('useTyping (the client\'s typingIndicator) sends one typing signal per interval, and the latest state last', async () => {
  const hub = fakeHub();
  let api;
  await mount(hub, hub.client({ token: 'alice' }), h(Typing, { onApi: (value) => (api = value) }));
  const sent = () => hub.commands('signal').map((command) => command.data.typing);
  for (let key = 0; key < 10; key++) api.startTyping();
  await hub.settle();
  assert.deepEqual(sent(), [true], 'the first keystroke at once, the others held');
  await hub.timers.advance(1000);
  assert.deepEqual(sent(), [true, true], 'the held state when the interval ends');
  api.startTyping();
  api.stopTyping();
  await hub.timers.advance(1000);
  assert.deepEqual(sent(), [true, true, false], 'a stop within the interval goes out after it, never lost');
  hub.closeAll();
});

function Receipts({ onApi }) {
  const receipts = useReceipts('dm');
  onApi(receipts);
  const record = receipts.records.get(1);
  return h('p', null, record ? `${record.delivered}/${record.read}` : '-');
}

test('useReceipts says unsupported (and refuses) with a client that has no receipts API', async () => {
  const hub = fakeHub();
  let api;
  // An older client build without markRead/receipts.
  const oldClient = Object.assign(Object.create(hub.client()), { markRead: undefined, receipts: undefined });
  await mount(hub, oldClient, h(Receipts, { onApi: (value) => (api = value) }));
  assert.equal(api.supported, false);
  await assert.rejects(api.markRead(1), /no receipts API/);
  hub.closeAll();
});

test('useReceipts follows receipt pushes and acknowledges reads through a client that has the API', async () => {
  const hub = fakeHub();
  const client = hub.client();
  // Scripts the client's receipts API (protocol.md §4.11): markRead/receipts and onReceipt on subscribe.
  let pushReceipt;
  const acks = [];
  const receiptsClient = Object.assign(Object.create(client), {
    subscribe: (channel, options) => {
      pushReceipt = options.onReceipt;
      return client.subscribe(channel, options);
    },
    markRead: async (channel, offset) => void acks.push([channel, offset, 'read']),
    receipts: async (channel, offset) => ({ channel, offset, recipients: [{ user: 'bob', delivered: true, read: false }], total: 1, delivered: 1, read: 0 }),
  });
  let api;
  const view = await mount(hub, receiptsClient, h(Receipts, { onApi: (value) => (api = value) }));
  assert.equal(api.supported, true);
  await api.load(1);
  await hub.frame();
  assert.equal(view.text(), '1/0');
  pushReceipt({ channel: 'dm', offset: 1, user: 'bob', status: 'read' });
  pushReceipt({ channel: 'dm', offset: 1, user: 'carol', status: 'delivered' });
  await hub.frame();
  assert.equal(view.text(), '2/1');
  await api.markRead(7);
  assert.deepEqual(acks, [['dm', 7, 'read']]);
  hub.closeAll();
});

test('a read receipt implies delivery, and a repeated receipt changes nothing', () => {
  const read = applyReceipt(undefined, { channel: 'dm', offset: 1, user: 'bob', status: 'read' });
  assert.deepEqual(read.recipients, [{ user: 'bob', delivered: true, read: true }]);
  const again = applyReceipt(read, { channel: 'dm', offset: 1, user: 'bob', status: 'delivered' });
  assert.deepEqual([again.total, again.delivered, again.read], [1, 1, 1]);
});

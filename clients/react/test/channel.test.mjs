import test from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MESSAGE_LIMIT, SwitchboardProvider, useChannel, usePublish, useConnectionState } from '@switchboard/react';
import { h, render, renderCounter, React } from './helpers/dom.mjs';
import { fakeHub } from './helpers/fake.mjs';

function Feed({ channel, options, onRender, onSnapshot }) {
  onRender?.();
  const snapshot = useChannel(channel, options);
  onSnapshot?.(snapshot);
  return h('ul', null, snapshot.publications.map((p) => h('li', { key: `${p.epoch}:${p.offset}` }, String(p.data.n))));
}

async function mountWithClient(hub, element, options) {
  const client = hub.client();
  const view = await render(h(SwitchboardProvider, { client, frames: hub.frames, timers: hub.timers }, element), options);
  await hub.frame();
  return { client, view };
}

test('useChannel keeps every publication, in order, not only the last', async () => {
  const hub = fakeHub();
  const { view } = await mountWithClient(hub, h(Feed, { channel: 'feed' }));
  for (let n = 1; n <= 4; n++) hub.server.publish('feed', { n });
  await hub.frame();
  assert.deepEqual(view.all('li'), ['1', '2', '3', '4']);
  hub.closeAll();
});

test('useChannel with `limit` keeps only the newest publications', async () => {
  const hub = fakeHub();
  const { view } = await mountWithClient(hub, h(Feed, { channel: 'feed', options: { limit: 3 } }));
  for (let n = 1; n <= 5; n++) hub.server.publish('feed', { n });
  await hub.frame();
  assert.deepEqual(view.all('li'), ['3', '4', '5']);
  hub.closeAll();
});

test('useChannel keeps the newest DEFAULT_MESSAGE_LIMIT (1000) publications by default; `limit: Infinity` keeps all', async () => {
  const hub = fakeHub();
  let bounded;
  let unbounded;
  await mountWithClient(
    hub,
    h(React.Fragment, null, [
      h(Feed, { key: 'a', channel: 'busy', onSnapshot: (s) => (bounded = s) }),
      h(Feed, { key: 'b', channel: 'busy', options: { limit: Infinity }, onSnapshot: (s) => (unbounded = s) }),
    ]),
  );
  for (let n = 1; n <= 1500; n++) hub.server.publish('busy', { n });
  await hub.frame();
  assert.equal(DEFAULT_MESSAGE_LIMIT, 1000);
  assert.equal(bounded.publications.length, 1000);
  assert.deepEqual([bounded.publications[0].data.n, bounded.publications[999].data.n], [501, 1500]);
  assert.equal(unbounded.publications.length, 1500);
  hub.closeAll();
});

test('changing maxRate on a mounted useChannel reaches the server: one re-subscribe from the position, nothing lost', async () => {
  const hub = fakeHub();
  const client = hub.client();
  const element = (options) => h(SwitchboardProvider, { client, frames: hub.frames, timers: hub.timers }, h(Feed, { channel: 'ticker', options }));
  const view = await render(element({ maxRate: 5 }));
  await hub.frame();
  hub.server.publish('ticker', { n: 1 });
  hub.server.publish('ticker', { n: 2 });
  await hub.frame();
  assert.deepEqual(view.all('li'), ['1', '2']);
  await view.rerender(element({ maxRate: 20 }));
  await hub.settle();
  hub.server.publish('ticker', { n: 3 });
  await hub.frame();
  const subscribes = hub.commands('subscribe').map((command) => [command.maxRate, command.since?.offset ?? null]);
  assert.deepEqual(subscribes, [[5, null], [20, 2]]);
  assert.deepEqual(view.all('li'), ['3'], 'a changed option starts a fresh buffer, from the next publication');
  assert.equal(hub.server.subscriberCount('ticker'), 1);
  await view.unmount();
  hub.closeAll();
});

test('useChannel with a reducer folds every publication into state and keeps none', async () => {
  const hub = fakeHub();
  let snapshot;
  const options = { reducer: (sum, p) => sum + p.data.n, initialState: 0 };
  await mountWithClient(hub, h(Feed, { channel: 'sum', options, onSnapshot: (s) => (snapshot = s) }));
  for (let n = 1; n <= 10; n++) hub.server.publish('sum', { n });
  await hub.frame();
  assert.equal(snapshot.state, 55);
  assert.equal(snapshot.publications.length, 0);
  hub.closeAll();
});

test('useChannel exposes a reset with its reason, and `clearOnReset` drops what was kept', async () => {
  const hub = fakeHub();
  let snapshot;
  const { view } = await mountWithClient(hub, h(Feed, { channel: 'feed', options: { clearOnReset: true }, onSnapshot: (s) => (snapshot = s) }));
  hub.server.publish('feed', { n: 1 });
  await hub.frame();
  assert.deepEqual(view.all('li'), ['1']);
  hub.server.restart(); // history lost: the client's recovery must fail
  await hub.timers.advance(200);
  await hub.frame();
  assert.equal(snapshot.resets, 1);
  assert.match(snapshot.reset.reason, /epoch changed/);
  assert.deepEqual(view.all('li'), []);
  hub.server.publish('feed', { n: 2 });
  await hub.frame();
  assert.deepEqual(view.all('li'), ['2']);
  hub.closeAll();
});

test('useChannel calls `onReset` and keeps publications by default', async () => {
  const hub = fakeHub();
  const resets = [];
  const { view } = await mountWithClient(hub, h(Feed, { channel: 'feed', options: { onReset: (r) => resets.push(r) } }));
  hub.server.publish('feed', { n: 1 });
  await hub.frame();
  hub.server.restart();
  await hub.timers.advance(200);
  await hub.frame();
  assert.equal(resets.length, 1);
  assert.deepEqual(view.all('li'), ['1']);
  hub.closeAll();
});

test('unmounting a useChannel component unsubscribes on the server', async () => {
  const hub = fakeHub();
  const { view } = await mountWithClient(hub, h(Feed, { channel: 'feed' }));
  assert.equal(hub.server.subscriberCount('feed'), 1);
  await view.unmount();
  await hub.settle();
  assert.equal(hub.server.subscriberCount('feed'), 0);
  hub.closeAll();
});

test('two components on one channel share one server subscription and both see everything', async () => {
  const hub = fakeHub();
  const { view } = await mountWithClient(hub, [h(Feed, { key: 'a', channel: 'feed' }), h(Feed, { key: 'b', channel: 'feed' })]);
  hub.server.publish('feed', { n: 1 });
  await hub.frame();
  assert.equal(hub.commands('subscribe').length, 1);
  assert.deepEqual(view.all('li'), ['1', '1']);
  hub.closeAll();
});

test('changing the channel prop unsubscribes the old channel and shows only the new one', async () => {
  const hub = fakeHub();
  const client = hub.client();
  const tree = (channel) => h(SwitchboardProvider, { client, frames: hub.frames }, h(Feed, { channel }));
  const view = await render(tree('one'));
  await hub.frame();
  hub.server.publish('one', { n: 1 });
  await hub.frame();
  await view.rerender(tree('two'));
  await hub.frame();
  hub.server.publish('two', { n: 2 });
  await hub.frame();
  assert.equal(hub.server.subscriberCount('one'), 0);
  assert.deepEqual(view.all('li'), ['2']);
  hub.closeAll();
});

test('in StrictMode useChannel subscribes once and delivers each publication once', async () => {
  const hub = fakeHub();
  const { view } = await mountWithClient(hub, h(Feed, { channel: 'feed' }), { strict: true });
  hub.server.publish('feed', { n: 1 });
  await hub.frame();
  assert.equal(hub.commands('subscribe').length, 1);
  assert.equal(hub.commands('unsubscribe').length, 0);
  assert.deepEqual(view.all('li'), ['1']);
  hub.closeAll();
});

test('publications arriving between frames do not render until the next frame', async () => {
  const hub = fakeHub();
  const renders = renderCounter();
  const { view } = await mountWithClient(hub, h(Feed, { channel: 'feed', onRender: renders }));
  const before = renders.count;
  for (let n = 1; n <= 50; n++) hub.server.publish('feed', { n });
  await hub.settle();
  assert.equal(renders.count, before);
  assert.equal(view.all('li').length, 0);
  await hub.frame();
  assert.equal(renders.count, before + 1);
  assert.equal(view.all('li').length, 50);
  hub.closeAll();
});

test('1,000 publications in one second (60 frames) render at most once per frame and all arrive', async () => {
  const hub = fakeHub();
  const renders = renderCounter();
  const { view } = await mountWithClient(hub, h(Feed, { channel: 'ticker', onRender: renders }));
  const before = renders.count;
  let published = 0;
  for (let frame = 1; frame <= 60; frame++) {
    const due = Math.round((frame * 1000) / 60);
    while (published < due) hub.server.publish('ticker', { n: ++published });
    await hub.frame();
  }
  assert.equal(published, 1000);
  assert.ok(renders.count - before <= 60, `${renders.count - before} renders for 60 frames`);
  assert.equal(view.all('li').length, 1000);
  assert.equal(view.all('li')[999], '1000');
  hub.closeAll();
});

test('hooks of one provider that change in the same frame render in one batch', async () => {
  const hub = fakeHub();
  const renders = renderCounter();
  function Dashboard() {
    renders();
    const a = useChannel('a');
    const b = useChannel('b');
    const connection = useConnectionState();
    return h('p', null, `${connection.status} ${a.publications.length} ${b.publications.length}`);
  }
  const { view } = await mountWithClient(hub, h(Dashboard));
  const before = renders.count;
  hub.server.publish('a', { n: 1 });
  hub.server.publish('b', { n: 1 });
  await hub.frame();
  assert.equal(view.text(), 'connected 1 1');
  assert.equal(renders.count - before, 1);
  hub.closeAll();
});

test('usePublish sends from a component and resolves with the stored position', async () => {
  const hub = fakeHub();
  let publish;
  function Sender() {
    publish = usePublish('chat');
    return null;
  }
  await mountWithClient(hub, h(Sender));
  const result = await publish({ text: 'hi' });
  assert.deepEqual({ channel: result.channel, offset: result.offset }, { channel: 'chat', offset: 1 });
  hub.closeAll();
});

test('usePublish while offline is delivered once after reconnecting', async () => {
  const hub = fakeHub();
  let publish;
  function Sender() {
    publish = usePublish('chat');
    return null;
  }
  const { view } = await mountWithClient(hub, [h(Sender, { key: 's' }), h(Feed, { key: 'f', channel: 'chat' })]);
  hub.server.refusing.add('websocket');
  hub.network.cut();
  await hub.settle();
  const sent = publish({ n: 'offline' });
  hub.server.refusing.delete('websocket');
  await hub.timers.advance(500);
  await sent;
  await hub.frame();
  assert.deepEqual(view.all('li'), ['offline']);
  assert.equal(hub.commands('publish').length, 1);
  hub.closeAll();
});

test('usePublish rejects with the server error when the publish is refused', async () => {
  const hub = fakeHub();
  hub.network.failPublishes('chat', { times: 1 });
  let publish;
  function Sender() {
    publish = usePublish('chat');
    return null;
  }
  await mountWithClient(hub, h(Sender));
  await assert.rejects(publish({ text: 'no' }), (error) => error.code === 103);
  const retried = await publish({ text: 'yes' });
  assert.equal(retried.offset, 1);
  hub.closeAll();
});

test('useConnectionState follows connected, reconnecting after a cut, and connected again', async () => {
  const hub = fakeHub();
  const seen = [];
  function Status() {
    const { status } = useConnectionState();
    React.useEffect(() => void seen.push(status), [status]);
    return h('p', null, status);
  }
  const { view } = await mountWithClient(hub, h(Status));
  assert.equal(view.text(), 'connected');
  hub.server.refusing.add('websocket');
  hub.network.cut();
  await hub.frame();
  assert.equal(view.text(), 'reconnecting');
  hub.server.refusing.delete('websocket');
  await hub.timers.advance(500);
  await hub.frame();
  assert.equal(view.text(), 'connected');
  assert.deepEqual(seen.filter((status, index) => status !== seen[index - 1]).slice(-3), ['connected', 'reconnecting', 'connected']);
  hub.closeAll();
});

import test from 'node:test';
import assert from 'node:assert/strict';
import { SwitchboardProvider, useChannel, useConnectionState } from '@switchboard/react';
import { h, render } from './helpers/dom.mjs';
import { fakeHub } from './helpers/fake.mjs';

function Status() {
  return h('p', null, useConnectionState().status);
}

function Feed({ channel }) {
  const { publications } = useChannel(channel);
  return h('ul', null, publications.map((p) => h('li', { key: p.offset }, p.data.text)));
}

/** A provider that creates its own client from a url, on the fake network. */
function ownedProvider(hub, children) {
  return h(
    SwitchboardProvider,
    { url: 'http://switchboard.test', options: { transports: [hub.network.transport()], environment: null, timers: hub.timers }, frames: hub.frames },
    children,
  );
}

test('a provider given a url connects one client when it mounts and closes it when it unmounts', async () => {
  const hub = fakeHub();
  const view = await render(ownedProvider(hub, h(Status)));
  await hub.frame();
  assert.equal(view.text(), 'connected');
  assert.equal(hub.network.openLinks, 1);
  await view.unmount();
  await hub.settle();
  assert.equal(hub.network.openLinks, 0);
  assert.equal(hub.server.connections.size, 0);
});

test('in StrictMode a provider opens exactly one connection and one server subscription', async () => {
  const hub = fakeHub();
  const view = await render(ownedProvider(hub, [h(Status, { key: 's' }), h(Feed, { key: 'f', channel: 'news' })]), { strict: true });
  await hub.frame();
  assert.equal(hub.commands('connect').length, 1);
  assert.equal(hub.commands('subscribe').length, 1);
  assert.equal(hub.commands('unsubscribe').length, 0);
  assert.equal(hub.network.openLinks, 1);
  await view.unmount();
});

test('in StrictMode unmounting leaves no connection and no subscription behind', async () => {
  const hub = fakeHub();
  const view = await render(ownedProvider(hub, h(Feed, { channel: 'news' })), { strict: true });
  await hub.frame();
  assert.equal(hub.server.subscriberCount('news'), 1);
  await view.unmount();
  await hub.settle();
  assert.equal(hub.server.subscriberCount('news'), 0);
  assert.equal(hub.network.openLinks, 0);
  assert.equal(hub.timers.pending, 0, 'no timer of the closed client is left');
});

test('a provider given a client shares it and leaves its lifecycle to the app', async () => {
  const hub = fakeHub();
  const client = hub.client();
  const view = await render(h(SwitchboardProvider, { client, frames: hub.frames }, h(Status)));
  await hub.frame();
  await view.unmount();
  await hub.settle();
  assert.equal(client.state.status, 'connected');
  hub.closeAll();
});

test('a hook outside a provider throws an error naming the provider', async () => {
  const originalError = console.error;
  console.error = () => {}; // React logs the error it rethrows
  try {
    await assert.rejects(render(h(Status)), /SwitchboardProvider/);
  } finally {
    console.error = originalError;
  }
});

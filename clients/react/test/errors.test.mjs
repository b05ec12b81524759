import test from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionError, SwitchboardProvider, useSwitchboardErrors } from '@switchboard/react';
import { h, render } from './helpers/dom.mjs';
import { fakeHub } from './helpers/fake.mjs';

function Errors({ channel, seen }) {
  const errors = useSwitchboardErrors(channel);
  seen.push(errors);
  return h('p', null, `${errors.connectionError?.message ?? 'ok'} | ${errors.channelError?.code ?? 'ok'}`);
}

async function mount(hub, client, channel) {
  const seen = [];
  const view = await render(h(SwitchboardProvider, { client, frames: hub.frames }, h(Errors, { channel, seen })));
  await hub.frame();
  return { view, seen, last: () => seen[seen.length - 1] };
}

test('useSwitchboardErrors: no error while connected; a ConnectionError while reconnecting; cleared after', async () => {
  const hub = fakeHub();
  const client = hub.client();
  const { view, last } = await mount(hub, client);
  assert.equal(view.text(), 'ok | ok');
  hub.network.cut();
  await hub.frame();
  const error = last().connectionError;
  assert.ok(error instanceof ConnectionError);
  assert.equal(error.status, 'reconnecting');
  await hub.timers.advance(200); // the backoff's first retry
  await hub.frame();
  assert.equal(last().connectionError, null);
  await view.unmount();
  hub.closeAll();
});

test('useSwitchboardErrors: a server close that says do not come back is a ConnectionError with its code', async () => {
  const hub = fakeHub();
  const client = hub.client();
  const { view, last } = await mount(hub, client);
  hub.network.cut(4503, 'forbidden by the test');
  await hub.frame();
  const error = last().connectionError;
  assert.equal(error.status, 'disconnected');
  assert.equal(error.code, 4503);
  assert.match(error.message, /forbidden by the test/);
  await view.unmount();
  hub.closeAll();
});

test('useSwitchboardErrors: an error push from the server is the connection error', async () => {
  const hub = fakeHub();
  const client = hub.client();
  const { view, last } = await mount(hub, client);
  hub.server.push({ push: 'error', error: { code: 128, name: 'rate_limited', reason: 'slow down' } });
  await hub.frame();
  assert.equal(last().connectionError.code, 128);
  assert.equal(view.text(), 'rate_limited (128): slow down | ok');
  await view.unmount();
  hub.closeAll();
});

test('useSwitchboardErrors(channel): the refused subscription is the channel error, typed with its code', async () => {
  const hub = fakeHub();
  hub.network.failSubscribes('private:a');
  const client = hub.client();
  const { view, last } = await mount(hub, client, 'private:a');
  assert.equal(last().channelError.code, 101);
  assert.equal(last().channelError.errorName, 'unauthorized');
  assert.equal(view.text(), 'ok | 101');
  await view.unmount();
  hub.closeAll();
});

test('useSwitchboardErrors renders once per frame however many errors arrive, and only when they change', async () => {
  const hub = fakeHub();
  const client = hub.client();
  const { view, seen } = await mount(hub, client);
  const rendersBefore = seen.length;
  for (let index = 0; index < 10; index++) hub.server.push({ push: 'error', error: { code: 128, name: 'rate_limited', reason: `n${index}` } });
  await hub.frame();
  assert.equal(seen.length, rendersBefore + 1);
  assert.match(view.text(), /n9/);
  await hub.frame();
  assert.equal(seen.length, rendersBefore + 1);
  await view.unmount();
  hub.closeAll();
});

// Component scenarios that run unchanged against the fake server and against a real one (see backends.mjs). Each is
// one behaviour a React app relies on, asserted on the rendered DOM.

import test, { before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { SwitchboardProvider } from '@switchboard/react';
import { h, render, act } from './dom.mjs';
import { ChatRoom, click } from './components.mjs';
import { READONLY_NAMESPACE } from './backends.mjs';

export function componentScenarios(backend) {
  let mounted = [];
  let channelCounter = 0;
  const freshChannel = (namespace = 'chat') => `${namespace}:room${++channelCounter}-${process.pid}`;

  before(() => backend.setup());
  after(() => backend.teardown());
  beforeEach(() => (mounted = []));
  afterEach(async () => {
    for (const view of mounted) await view.unmount();
  });

  /** A ChatRoom for `channel` inside a provider sharing a new client, connected once mounted. */
  async function mountChat(channel) {
    const client = backend.client();
    const view = await render(h(SwitchboardProvider, { client, frames: backend.frames }, h(ChatRoom, { channel })));
    client.connect();
    mounted.push(view);
    await backend.until(() => view.all('.status')[0] === 'subscribed', 'the room subscribed');
    return { view, client };
  }

  const it = (name, body) => test(`${backend.name}: ${name}`, body);

  it('every publication from the backend appears, in order', async () => {
    const channel = freshChannel();
    const { view } = await mountChat(channel);
    for (let index = 1; index <= 5; index++) await backend.publish(channel, { text: `m${index}` });
    await backend.until(() => view.all('li').length === 5, 'five messages');
    assert.deepEqual(view.all('li'), ['m1', 'm2', 'm3', 'm4', 'm5']);
  });

  it('a cut connection shows reconnecting, then recovers what was published meanwhile', async () => {
    const channel = freshChannel();
    const { view } = await mountChat(channel);
    await backend.publish(channel, { text: 'before' });
    await backend.until(() => view.all('li').length === 1, 'the first message');
    await backend.goOffline();
    await backend.until(() => view.all('.banner')[0] === 'reconnecting', 'the banner saying reconnecting');
    await backend.publish(channel, { text: 'during' });
    await backend.goOnline();
    await backend.until(() => view.all('.banner')[0] === 'connected', 'the banner saying connected again');
    await backend.until(() => view.all('li').length === 2, 'the message published during the outage');
    assert.deepEqual(view.all('li'), ['before', 'during']);
    assert.equal(view.all('.reset').length, 0, 'recovered, not reset');
  });

  it('delayed messages arrive late but all of them, in order', async () => {
    const channel = freshChannel();
    const { view } = await mountChat(channel);
    backend.slowDown();
    for (let index = 1; index <= 3; index++) await backend.publish(channel, { text: `slow${index}` });
    if (backend.holdsUntilRestored) {
      // Only the fake can promise that nothing gets through a slowed link before it is restored.
      await backend.until(() => backend.heldMessages() >= 3, 'three held messages');
      assert.equal(view.all('li').length, 0);
    }
    backend.restoreSpeed();
    await backend.until(() => view.all('li').length === 3, 'three delayed messages');
    assert.deepEqual(view.all('li'), ['slow1', 'slow2', 'slow3']);
  });

  it('a refused publish shows the server error and the room keeps working', async () => {
    const channel = freshChannel(READONLY_NAMESPACE);
    const { view } = await mountChat(channel);
    await act(async () => click(view.container));
    await backend.until(() => view.all('.error').length === 1, 'the error message');
    assert.match(view.all('.error')[0], /^103 /);
    await backend.publish(channel, { text: 'from the backend' });
    await backend.until(() => view.all('li').length === 1, 'a later publication');
    assert.equal(view.all('.banner')[0], 'connected');
  });

  it('a message sent from the component is stored once by the backend and shown', async () => {
    const channel = freshChannel();
    const { view } = await mountChat(channel);
    await act(async () => click(view.container));
    await backend.until(() => view.all('li').length === 1, 'the sent message echoed back');
    assert.deepEqual(view.all('li'), ['hello']);
    assert.deepEqual(await backend.history(channel), [{ text: 'hello' }]);
  });
}

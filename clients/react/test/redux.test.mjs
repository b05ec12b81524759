import test from 'node:test';
import assert from 'node:assert/strict';
import { switchboardMiddleware, switchboardActionTypes } from '@switchboard/react';
import { createChatStore, createStore, applyMiddleware, sendMessage } from '../examples/chat-store.mjs';
import { fakeHub } from './helpers/fake.mjs';

const types = switchboardActionTypes();

function recordingStore(middleware) {
  const actions = [];
  const store = createStore((state = null, action) => (actions.push(action), state), applyMiddleware(middleware));
  actions.length = 0; // drop the store's init action
  return { store, actions };
}

test('the middleware turns connection states and publications into actions, in order', async () => {
  const hub = fakeHub();
  const client = hub.client({ autoConnect: false });
  const middleware = switchboardMiddleware({ client, channels: ['news'] });
  const { actions } = recordingStore(middleware);
  client.connect();
  await hub.settle();
  hub.server.publish('news', { n: 1 });
  hub.server.publish('news', { n: 2 });
  await hub.settle();
  assert.deepEqual(
    actions.map((action) => action.type === types.state ? action.state.status : action.publication.data.n),
    ['connecting', 'connected', 1, 2],
  );
  middleware.detach();
  hub.closeAll();
});

test('a publish action publishes and is followed by `published` with the position', async () => {
  const hub = fakeHub();
  const client = hub.client();
  const { store, actions } = recordingStore(switchboardMiddleware({ client }));
  store.dispatch({ type: types.publish, request: { channel: 'chat', data: { text: 'hi' }, requestId: 'r1' } });
  await hub.settle();
  const published = actions.find((action) => action.type === types.published);
  assert.equal(published.request.requestId, 'r1');
  assert.equal(published.result.offset, 1);
  hub.closeAll();
});

test('a refused publish is followed by `publishFailed` with the error', async () => {
  const hub = fakeHub();
  hub.network.failPublishes('chat');
  const { store, actions } = recordingStore(switchboardMiddleware({ client: hub.client() }));
  store.dispatch({ type: types.publish, request: { channel: 'chat', data: 1 } });
  await hub.settle();
  assert.equal(actions.find((action) => action.type === types.publishFailed).error.code, 103);
  hub.closeAll();
});

test('app actions mapped by `publishes` are published and still reach the reducers', async () => {
  const hub = fakeHub();
  const middleware = switchboardMiddleware({
    client: hub.client(),
    publishes: (action) => (action.type === 'cursor/moved' ? { channel: 'doc', data: action.position } : null),
  });
  const { store, actions } = recordingStore(middleware);
  store.dispatch({ type: 'cursor/moved', position: { x: 3 } });
  await hub.settle();
  assert.equal(actions[0].type, 'cursor/moved');
  assert.deepEqual(hub.commands('publish').map((command) => command.data), [{ x: 3 }]);
  hub.closeAll();
});

test('detaching the middleware unsubscribes its channels and stops dispatching', async () => {
  const hub = fakeHub();
  const middleware = switchboardMiddleware({ client: hub.client(), channels: ['news'] });
  const { actions } = recordingStore(middleware);
  await hub.settle();
  middleware.detach();
  await hub.settle();
  const count = actions.length;
  hub.server.publish('news', 1);
  await hub.settle();
  assert.equal(hub.server.subscriberCount('news'), 0);
  assert.equal(actions.length, count);
  hub.closeAll();
});

test('the example chat store shows a message as pending, then confirmed once, in order', async () => {
  const hub = fakeHub();
  const { store, detach } = createChatStore(hub.client(), 'chat:lobby');
  await hub.settle();
  store.dispatch(sendMessage('chat:lobby', 'hello'));
  assert.deepEqual(store.getState().pending.map((message) => message.text), ['hello']);
  await hub.settle();
  hub.server.publish('chat:lobby', { text: 'from bob' });
  await hub.settle();
  const state = store.getState();
  assert.equal(state.connection, 'connected');
  assert.deepEqual(state.pending, []);
  assert.deepEqual(state.messages.map((message) => [message.offset, message.text]), [[1, 'hello'], [2, 'from bob']]);
  detach();
  hub.closeAll();
});

test('the example chat store marks a refused message as failed', async () => {
  const hub = fakeHub();
  hub.network.failPublishes('chat:lobby');
  const { store, detach } = createChatStore(hub.client(), 'chat:lobby');
  store.dispatch(sendMessage('chat:lobby', 'nope'));
  await hub.settle();
  assert.deepEqual(store.getState().pending.map((message) => [message.text, message.failed]), [['nope', true]]);
  detach();
  hub.closeAll();
});

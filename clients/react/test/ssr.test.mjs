// Server rendering: `renderToString` of the provider and every hook runs render only — no effect — so it must create
// no client, socket, timer, BroadcastChannel or Web Lock; the first effect in the browser connects.
//
// The server here looks like a browser on purpose (BroadcastChannel, navigator.locks, WebSocket, EventSource and
// SharedWorker all exist, as fakes that count): frameworks such as Next.js polyfill some of them, and with them the
// default `createClient` would pick cross-tab sharing.

import test from 'node:test';
import assert from 'node:assert/strict';

const created = { broadcastChannels: 0, lockRequests: 0, webSockets: 0, eventSources: 0, sharedWorkers: 0, timers: 0, fetches: 0 };

class CountingBroadcastChannel {
  constructor() {
    created.broadcastChannels++;
    this.onmessage = null;
  }
  postMessage() {}
  close() {}
}
class CountingWebSocket {
  constructor() {
    created.webSockets++;
  }
  close() {}
}
class CountingEventSource {
  constructor() {
    created.eventSources++;
  }
  addEventListener() {}
  close() {}
}
class CountingSharedWorker {
  constructor() {
    created.sharedWorkers++;
    this.port = { postMessage() {}, start() {}, close() {} };
  }
}
globalThis.BroadcastChannel = CountingBroadcastChannel;
globalThis.WebSocket = CountingWebSocket;
globalThis.EventSource = CountingEventSource;
globalThis.SharedWorker = CountingSharedWorker;
Object.defineProperty(globalThis, 'navigator', {
  configurable: true,
  value: { locks: { request: () => ((created.lockRequests++), new Promise(() => {})) } },
});
globalThis.fetch = () => ((created.fetches++), new Promise(() => {}));

const React = (await import('react')).default;
const { renderToString } = await import('react-dom/server');
const bindings = await import('@switchboard/react');
const h = React.createElement;

/** Counts the timers started while `render` runs (React's server renderer itself starts none). */
function countingTimers(render) {
  const saved = { setTimeout: globalThis.setTimeout, setInterval: globalThis.setInterval, queueMicrotask: globalThis.queueMicrotask };
  globalThis.setTimeout = (...args) => ((created.timers++), saved.setTimeout(...args));
  globalThis.setInterval = (...args) => ((created.timers++), saved.setInterval(...args));
  try {
    return render();
  } finally {
    Object.assign(globalThis, saved);
  }
}

function EveryHook() {
  const state = bindings.useConnectionState();
  const channel = bindings.useChannel('chat:lobby', { limit: 10 });
  const presence = bindings.usePresence('chat:lobby');
  const typing = bindings.useTyping('chat:lobby');
  bindings.useSignal('chat:lobby', () => {});
  const receipts = bindings.useReceipts('chat:lobby');
  const publish = bindings.usePublish('chat:lobby');
  const errors = bindings.useSwitchboardErrors('chat:lobby');
  const socket = bindings.useWebSocket('ws://hub.test/raw/ws/news');
  const source = bindings.useEventSource('http://hub.test/raw/sse/news');
  return h(
    'p',
    null,
    [
      state.status,
      channel.status,
      channel.publications.length,
      presence === null ? 'no-presence' : 'presence',
      typing.typing.length,
      receipts.records.size,
      typeof publish,
      errors.connectionError === null && errors.channelError === null ? 'no-errors' : 'errors',
      socket.status,
      source.status,
    ].join(' '),
  );
}

for (const [name, options] of [
  ['cross-tab sharing (the default)', {}],
  ['a SharedWorker', { sharedWorker: '/switchboard-worker.js' }],
  ['a connection of its own', { shareAcrossTabs: false }],
]) {
  test(`renderToString of a provider with ${name} and every hook creates no client, socket, timer, channel or lock`, () => {
    for (const key of Object.keys(created)) created[key] = 0;
    const html = countingTimers(() =>
      renderToString(h(React.StrictMode, null, h(bindings.SwitchboardProvider, { url: 'http://hub.test', options }, h(EveryHook)))),
    );
    assert.equal(html, '<p>disconnected idle 0 no-presence 0 0 function no-errors connecting connecting</p>');
    assert.deepEqual(created, { broadcastChannels: 0, lockRequests: 0, webSockets: 0, eventSources: 0, sharedWorkers: 0, timers: 0, fetches: 0 });
  });
}

test('hydrating the server HTML connects once, from the first effect', async () => {
  delete globalThis.navigator; // jsdom's navigator (with a userAgent, which React DOM reads) takes its place
  const { act } = await import('./helpers/dom.mjs');
  const { hydrateRoot } = await import('react-dom/client');
  const { fakeHub } = await import('./helpers/fake.mjs');
  const hub = fakeHub();
  const options = { transports: [hub.network.transport()], environment: null, timers: hub.timers, shareAcrossTabs: false };
  function Status() {
    return h('p', null, bindings.useConnectionState().status);
  }
  const app = () => h(bindings.SwitchboardProvider, { url: 'http://switchboard.test', options, frames: hub.frames }, h(Status));
  const container = document.createElement('div');
  container.innerHTML = renderToString(app());
  assert.equal(container.textContent, 'disconnected');
  assert.equal(hub.commands('connect').length, 0, 'nothing connects before hydration');
  let root;
  await act(async () => {
    root = hydrateRoot(container, app());
  });
  await hub.frame();
  assert.equal(hub.commands('connect').length, 1);
  assert.equal(container.textContent, 'connected');
  await act(async () => root.unmount());
  await hub.settle();
  assert.equal(hub.network.openLinks, 0);
});

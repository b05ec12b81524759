import test from 'node:test';
import assert from 'node:assert/strict';
import { SwitchboardProvider, useWebSocket, useEventSource } from '@switchboard/react';
import { FakeAnimationFrames, FakeTimers } from '@switchboard/react/testing';
import { h, render, act } from './helpers/dom.mjs';
import { startServer } from '../../js/test/helpers/server.mjs';

/** A WebSocket stand-in the test drives: every instance is recorded; `serverOpen/serverSend/serverClose` act as the peer. */
function fakeWebSocketClass() {
  const sockets = [];
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      sockets.push(this);
    }
    send(data) {
      this.sent.push(data);
    }
    close(code, reason) {
      this.readyState = 3;
      this.closedWith = { code, reason };
    }
    serverOpen() {
      this.readyState = 1;
      this.onopen?.({});
    }
    serverSend(data) {
      this.onmessage?.({ data });
    }
    serverClose(code, reason = '') {
      this.readyState = 3;
      this.onclose?.({ code, reason });
    }
    serverError() {
      this.onerror?.({ type: 'error' });
    }
  }
  return { FakeWebSocket, sockets };
}

function Socket({ url, options, onApi }) {
  const socket = useWebSocket(url, options);
  onApi?.(socket);
  return h('p', null, `${socket.status}:${socket.messages.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join('|')}`);
}

async function mountRaw(element, options) {
  const frames = new FakeAnimationFrames();
  const timers = new FakeTimers();
  // A provider only to inject frames and timers: the raw hooks need no client (this one is never used).
  const client = { state: { status: 'disconnected' }, on: () => () => {} };
  const view = await render(h(SwitchboardProvider, { client, frames, timers }, element), options);
  const frame = () => act(async () => frames.runFrame());
  return { view, frame, timers };
}

test('useWebSocket keeps every message (JSON parsed when it parses) and sends', async () => {
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  let api;
  const { view, frame } = await mountRaw(h(Socket, { url: 'ws://x/raw', options: { WebSocket: FakeWebSocket }, onApi: (value) => (api = value) }));
  sockets[0].serverOpen();
  sockets[0].serverSend('{"a":1}');
  sockets[0].serverSend('plain');
  await frame();
  assert.equal(view.text(), 'open:{"a":1}|plain');
  assert.equal(api.send({ b: 2 }), true);
  assert.deepEqual(sockets[0].sent, ['{"b":2}']);
  await view.unmount();
});

test('useWebSocket in StrictMode opens one socket and closes it on unmount', async () => {
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  const { view } = await mountRaw(h(Socket, { url: 'ws://x/raw', options: { WebSocket: FakeWebSocket } }), { strict: true });
  assert.equal(sockets.length, 1);
  await view.unmount();
  assert.equal(sockets[0].readyState, 3);
});

test('useWebSocket reconnects with backoff after the server closes, and stays closed with `reconnect: false`', async () => {
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  const { view, frame, timers } = await mountRaw(h(Socket, { url: 'ws://x/raw', options: { WebSocket: FakeWebSocket, reconnect: { initialMs: 100, maxMs: 100 } } }));
  sockets[0].serverOpen();
  sockets[0].serverClose(1006);
  await frame();
  assert.match(view.text(), /^reconnecting/);
  await timers.advance(100);
  assert.equal(sockets.length, 2);
  await view.unmount();

  const second = fakeWebSocketClass();
  const once = await mountRaw(h(Socket, { url: 'ws://x/raw', options: { WebSocket: second.FakeWebSocket, reconnect: false } }));
  second.sockets[0].serverClose(1000);
  await once.frame();
  await once.timers.advance(60000);
  assert.equal(second.sockets.length, 1);
  assert.match(once.view.text(), /^closed/);
  await once.view.unmount();
});

test('useEventSource keeps `message` and the named events, and closes the source on unmount', async () => {
  const sources = [];
  class FakeEventSource {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.listeners = new Map();
      sources.push(this);
    }
    addEventListener(type, listener) {
      this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
    }
    close() {
      this.readyState = 2;
    }
    emit(type, data, lastEventId = '') {
      for (const listener of this.listeners.get(type) ?? []) listener({ type, data, lastEventId });
    }
  }
  function Feed() {
    const { status, messages } = useEventSource('http://x/raw/sse/news', { EventSource: FakeEventSource, events: ['reset'] });
    return h('p', null, `${status}:${messages.map((m) => `${m.event}=${JSON.stringify(m.data)}@${m.lastEventId}`).join('|')}`);
  }
  const { view, frame } = await mountRaw(h(Feed), { strict: true });
  assert.equal(sources.length, 1);
  sources[0].onopen();
  sources[0].emit('message', '{"title":"a"}', 'e:1');
  sources[0].emit('reset', '{"push":"reset"}', 'f:5');
  await frame();
  assert.equal(view.text(), 'open:message={"title":"a"}@e:1|reset={"push":"reset"}@f:5');
  await view.unmount();
  assert.equal(sources[0].readyState, 2);
});

test('useWebSocket on a real server’s raw endpoint receives publications and publishes what it sends', async (t) => {
  if (typeof globalThis.WebSocket !== 'function') return t.skip('this Node has no WebSocket (run with --experimental-websocket)');
  const server = await startServer();
  try {
    let api;
    const url = `${server.url.replace('http', 'ws')}/raw/ws/${encodeURIComponent('news:raw')}`;
    const { view, frame } = await mountRaw(h(Socket, { url, onApi: (value) => (api = value) }));
    const until = async (check, what) => {
      const deadline = Date.now() + 10000;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${view.text()}`);
        await act(async () => new Promise((resolve) => setTimeout(resolve, 5)));
        await frame();
      }
    };
    await until(() => api.status === 'open', 'open');
    await server.publish('news:raw', { title: 'from the API' });
    await until(() => api.messages.length === 1, 'the publication');
    api.send({ title: 'from the page' });
    await until(() => api.messages.length === 2, 'its own publication');
    assert.equal(view.text(), 'open:{"title":"from the API"}|{"title":"from the page"}');
    const history = await server.history('news:raw');
    assert.deepEqual(history.publications.map((p) => p.data.title), ['from the API', 'from the page']);
    await view.unmount();
  } finally {
    await server.stop();
  }
});

// useWebSocket next to react-use-websocket: socket events as callbacks, reconnect policy (which closes, how many
// attempts), heartbeat, binary messages, a send queue while connecting, and `parse` read on every message.

import test from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MESSAGE_LIMIT, SwitchboardProvider, useWebSocket } from '@switchboard/react';
import { FakeAnimationFrames, FakeTimers } from '@switchboard/react/testing';
import { h, render, act } from './helpers/dom.mjs';

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
      if (this.readyState !== 1) throw new Error('InvalidStateError: not open');
      this.sent.push(data);
    }
    close(code, reason) {
      this.readyState = 3;
      this.closedWith = { code, reason };
    }
    serverOpen() {
      this.readyState = 1;
      this.onopen?.({ type: 'open' });
    }
    serverSend(data) {
      this.onmessage?.({ type: 'message', data });
    }
    serverClose(code, reason = '') {
      this.readyState = 3;
      this.onclose?.({ type: 'close', code, reason });
    }
    serverError() {
      this.onerror?.({ type: 'error' });
    }
  }
  return { FakeWebSocket, sockets };
}

function Socket({ url = 'ws://x/raw', options, onApi }) {
  const socket = useWebSocket(url, options);
  onApi?.(socket);
  return h('p', null, `${socket.status}:${socket.messages.length}`);
}

async function mount(options, { strict = false } = {}) {
  const frames = new FakeAnimationFrames();
  const timers = new FakeTimers();
  const client = { state: { status: 'disconnected' }, on: () => () => {} };
  let api;
  const element = (next) => h(SwitchboardProvider, { client, frames, timers }, h(Socket, { options: next, onApi: (value) => (api = value) }));
  const view = await render(element(options), { strict });
  return {
    view,
    timers,
    api: () => api,
    frame: () => act(async () => frames.runFrame()),
    rerender: (next) => view.rerender(element(next)),
  };
}

test('onOpen, onMessage, onError and onClose get the socket events, and the latest callbacks are the ones called', async () => {
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  const events = [];
  const callbacks = (tag) => ({
    WebSocket: FakeWebSocket,
    onOpen: (event) => events.push(`${tag} open ${event.type}`),
    onMessage: (event) => events.push(`${tag} message ${event.data}`),
    onError: (event) => events.push(`${tag} error ${event.type}`),
    onClose: (event) => events.push(`${tag} close ${event.code}`),
  });
  const hook = await mount(callbacks('first'));
  sockets[0].serverOpen();
  sockets[0].serverSend('a');
  await hook.rerender(callbacks('second'));
  sockets[0].serverSend('b');
  sockets[0].serverError();
  sockets[0].serverClose(1000);
  assert.deepEqual(events, ['first open open', 'first message a', 'second message b', 'second error error', 'second close 1000']);
  assert.equal(sockets.length, 1, 'new callbacks do not reopen the socket');
  await hook.view.unmount();
});

test('parse is read on every message: a new parse applies to the next message without reconnecting', async () => {
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  const hook = await mount({ WebSocket: FakeWebSocket, parse: (text) => `v1:${text}` });
  sockets[0].serverOpen();
  sockets[0].serverSend('a');
  await hook.rerender({ WebSocket: FakeWebSocket, parse: (text) => `v2:${text}` });
  sockets[0].serverSend('b');
  await hook.frame();
  assert.deepEqual(hook.api().messages, ['v1:a', 'v2:b']);
  assert.equal(hook.api().lastMessage, 'v2:b');
  assert.equal(sockets.length, 1);
  await hook.view.unmount();
});

for (const code of [1000, 1008]) {
  test(`after a ${code} close it does not reconnect unless shouldReconnect says so`, async () => {
    const plain = fakeWebSocketClass();
    const hook = await mount({ WebSocket: plain.FakeWebSocket, reconnect: { initialMs: 10, maxMs: 10 } });
    plain.sockets[0].serverOpen();
    plain.sockets[0].serverClose(code, 'meant it');
    await hook.timers.advance(60000);
    await hook.frame();
    assert.equal(plain.sockets.length, 1);
    assert.equal(hook.api().status, 'closed');
    assert.equal(hook.api().closeCode, code);
    await hook.view.unmount();

    const asked = fakeWebSocketClass();
    const closes = [];
    const second = await mount({
      WebSocket: asked.FakeWebSocket,
      reconnect: { initialMs: 10, maxMs: 10 },
      shouldReconnect: (event) => (closes.push(event.code), true),
    });
    asked.sockets[0].serverOpen();
    asked.sockets[0].serverClose(code);
    await second.timers.advance(10);
    assert.equal(asked.sockets.length, 2);
    assert.deepEqual(closes, [code]);
    await second.view.unmount();
  });
}

test('shouldReconnect returning false keeps the socket closed after an abnormal close', async () => {
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  const hook = await mount({ WebSocket: FakeWebSocket, reconnect: { initialMs: 10, maxMs: 10 }, shouldReconnect: () => false });
  sockets[0].serverClose(1006);
  await hook.timers.advance(60000);
  await hook.frame();
  assert.equal(sockets.length, 1);
  assert.equal(hook.api().status, 'closed');
  await hook.view.unmount();
});

test('reconnect attempts are capped: onReconnectStop is called once with the count and the status is closed', async () => {
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  const stops = [];
  const hook = await mount({
    WebSocket: FakeWebSocket,
    reconnect: { initialMs: 10, maxMs: 10 },
    reconnectAttempts: 3,
    onReconnectStop: (attempts) => stops.push(attempts),
  });
  for (let attempt = 0; attempt <= 3; attempt++) {
    sockets[attempt].serverClose(1006); // never opens: every attempt fails
    await hook.timers.advance(10);
  }
  await hook.timers.advance(60000);
  await hook.frame();
  assert.equal(sockets.length, 4, 'the first socket and 3 attempts');
  assert.deepEqual(stops, [3]);
  assert.equal(hook.api().status, 'closed');
  await hook.view.unmount();
});

test('an open resets the attempt count, and the default cap is 20 attempts', async () => {
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  const stops = [];
  const hook = await mount({ WebSocket: FakeWebSocket, reconnect: { initialMs: 10, maxMs: 10 }, onReconnectStop: (n) => stops.push(n) });
  for (let attempt = 0; attempt < 15; attempt++) {
    sockets.at(-1).serverClose(1006);
    await hook.timers.advance(10);
  }
  sockets.at(-1).serverOpen(); // the count starts again
  for (let attempt = 0; attempt <= 20; attempt++) {
    sockets.at(-1).serverClose(1006);
    await hook.timers.advance(10);
  }
  assert.equal(sockets.length, 1 + 15 + 20);
  assert.deepEqual(stops, [20]);
  await hook.view.unmount();
});

test('heartbeat: sends the message every interval, hides the answer, and reconnects when the link stays silent', async () => {
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  const closes = [];
  const hook = await mount({
    WebSocket: FakeWebSocket,
    reconnect: { initialMs: 10, maxMs: 10 },
    heartbeat: { message: 'ping', returnMessage: 'pong', intervalMs: 1000, timeoutMs: 3000 },
    onClose: (event) => closes.push(event.code),
  });
  sockets[0].serverOpen();
  await hook.timers.advance(1000);
  assert.deepEqual(sockets[0].sent, ['ping']);
  sockets[0].serverSend('pong');
  sockets[0].serverSend('{"n":1}');
  await hook.timers.advance(1000);
  await hook.frame();
  assert.deepEqual(hook.api().messages, [{ n: 1 }], 'the heartbeat answer is not a message');
  assert.deepEqual(sockets[0].sent, ['ping', 'ping']);
  await hook.timers.advance(3000); // silence past the timeout
  assert.deepEqual(sockets[0].closedWith, { code: 4000, reason: 'heartbeat timeout' });
  assert.deepEqual(closes, [4000]);
  await hook.timers.advance(10);
  assert.equal(sockets.length, 2, 'reconnected');
  await hook.view.unmount();
  assert.equal(hook.timers.pending, 0, 'no heartbeat timer left after unmount');
});

test('binary messages are kept (ArrayBuffer by default, or through parseBinary) instead of dropped', async () => {
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  const hook = await mount({ WebSocket: FakeWebSocket });
  assert.equal(sockets[0].binaryType, 'arraybuffer');
  sockets[0].serverOpen();
  const bytes = new Uint8Array([1, 2, 3]).buffer;
  sockets[0].serverSend(bytes);
  sockets[0].serverSend('text');
  await hook.frame();
  assert.equal(hook.api().messages[0], bytes);
  assert.equal(hook.api().messages[1], 'text');
  await hook.rerender({ WebSocket: FakeWebSocket, parseBinary: (data) => [...new Uint8Array(data)] });
  sockets[0].serverSend(bytes);
  await hook.frame();
  assert.deepEqual(hook.api().messages[2], [1, 2, 3]);
  hook.api().send(new Uint8Array([9]));
  assert.ok(sockets[0].sent[0] instanceof Uint8Array, 'binary is sent as is');
  await hook.view.unmount();
});

test('send while connecting queues (bounded) and the queue goes out in order on open; false when full', async () => {
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  const hook = await mount({ WebSocket: FakeWebSocket, sendQueueLimit: 2 });
  assert.equal(hook.api().send('one'), true);
  assert.equal(hook.api().send({ two: 2 }), true);
  assert.equal(hook.api().send('three'), false, 'beyond sendQueueLimit');
  assert.deepEqual(sockets[0].sent, []);
  sockets[0].serverOpen();
  assert.deepEqual(sockets[0].sent, ['one', '{"two":2}']);
  assert.equal(hook.api().send('four'), true);
  assert.deepEqual(sockets[0].sent, ['one', '{"two":2}', 'four']);
  await hook.view.unmount();
});

test('useWebSocket keeps the newest DEFAULT_MESSAGE_LIMIT (1000) messages by default; limit: Infinity keeps all', async () => {
  assert.equal(DEFAULT_MESSAGE_LIMIT, 1000);
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  const hook = await mount({ WebSocket: FakeWebSocket });
  sockets[0].serverOpen();
  for (let n = 1; n <= 1500; n++) sockets[0].serverSend(String(n));
  await hook.frame();
  assert.equal(hook.api().messages.length, 1000);
  assert.equal(hook.api().messages[0], 501);
  assert.equal(hook.api().lastMessage, 1500);
  await hook.view.unmount();

  const all = fakeWebSocketClass();
  const unbounded = await mount({ WebSocket: all.FakeWebSocket, limit: Infinity });
  all.sockets[0].serverOpen();
  for (let n = 1; n <= 1500; n++) all.sockets[0].serverSend(String(n));
  await unbounded.frame();
  assert.equal(unbounded.api().messages.length, 1500);
  await unbounded.view.unmount();
});

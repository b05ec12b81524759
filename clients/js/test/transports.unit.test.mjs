// The HTTP transports' own rules, against a scripted fetch: SSE parsing, one command request at a time, and the
// long-poll acknowledgement that makes a lost poll response harmless.

import test from 'node:test';
import assert from 'node:assert/strict';
import { SseParser, pollTransport, sseTransport } from '../dist/switchboard.mjs';
import { FakeTimers, flushMicrotasks } from '../dist/testing.mjs';

/** A fetch whose every request waits until the test answers it. */
function scriptedFetch() {
  const requests = [];
  // Like a browser's window.fetch: calling it as a method of another object throws "Illegal invocation".
  const fetch = function (url, init = {}) {
    if (this !== undefined && this !== globalThis) throw new TypeError('Illegal invocation');
    return new Promise((resolve, reject) => {
      const request = { url: String(url), method: init.method ?? 'GET', body: init.body, resolve, reject };
      init.signal?.addEventListener('abort', () => reject(new Error('aborted')));
      requests.push(request);
    });
  };
  const answer = (request, status, body) =>
    request.resolve(new Response(typeof body === 'string' ? body : JSON.stringify(body), { status }));
  const next = async (predicate = () => true) => {
    for (let i = 0; i < 50; i++) {
      const index = requests.findIndex(predicate);
      if (index !== -1) return requests.splice(index, 1)[0];
      await flushMicrotasks();
    }
    throw new Error('expected request was not made');
  };
  return { fetch, answer, next, requests };
}

function handlersRecording() {
  const events = [];
  return {
    events,
    onOpen: () => events.push('open'),
    onMessage: (message) => events.push(message),
    onActivity: () => {},
    onClose: (close) => events.push({ close }),
  };
}

test('the SSE parser handles CRLF split across chunks, multi-line data and comments', () => {
  const events = [];
  let comments = 0;
  const parser = new SseParser((event) => events.push(event), () => comments++);
  parser.push('retry: 2000\r');
  parser.push('\n\r\n:\r\n\r\ndata: {"a":');
  parser.push('1}\ndata: second line\n\nid: 7\nevent: named\ndata: x\n\n');
  assert.deepEqual(events, [
    { event: 'message', data: '{"a":1}\nsecond line', id: null },
    { event: 'named', data: 'x', id: '7' },
  ]);
  assert.equal(comments, 1);
});

test('SSE: the transport opens on the session event and posts commands to that session', async () => {
  const http = scriptedFetch();
  const handlers = handlersRecording();
  const transport = sseTransport.create({ baseUrl: 'http://hub', timers: new FakeTimers(), log: () => {}, pollTimeoutMs: 25000, fetch: http.fetch });
  transport.open(handlers);
  const stream = await http.next((r) => r.url === 'http://hub/connection/sse');
  let push;
  const body = new ReadableStream({ start: (controller) => (push = (text) => controller.enqueue(new TextEncoder().encode(text))) });
  stream.resolve(new Response(body, { status: 200 }));
  push('retry: 2000\n\ndata: {"push":"session","session":"S1"}\n\n');
  await flushMicrotasks();
  assert.deepEqual(handlers.events, ['open']);
  transport.send([{ id: 1, cmd: 'connect' }]);
  const post = await http.next((r) => r.method === 'POST');
  assert.equal(post.url, 'http://hub/connection/S1/command');
  assert.deepEqual(JSON.parse(post.body), { id: 1, cmd: 'connect' });
  http.answer(post, 202, { accepted: 1 });
  push('data: {"id":1,"result":{"client":"c","version":"1","ping":25000}}\n\n');
  await flushMicrotasks();
  assert.equal(handlers.events[1].id, 1);
  transport.close();
});

test('SSE/poll commands go one request at a time; commands queued meanwhile go together as an array, in order', async () => {
  const http = scriptedFetch();
  const handlers = handlersRecording();
  const transport = pollTransport.create({ baseUrl: 'http://hub', timers: new FakeTimers(), log: () => {}, pollTimeoutMs: 25000, fetch: http.fetch });
  transport.open(handlers);
  http.answer(await http.next((r) => r.url === 'http://hub/connection/poll'), 200, { session: 'S', seq: 0 });
  await flushMicrotasks();
  transport.send([{ id: 1, cmd: 'connect' }]);
  transport.send([{ id: 2, cmd: 'subscribe', channel: 'a' }]);
  transport.send([{ id: 3, cmd: 'subscribe', channel: 'b' }]);
  const first = await http.next((r) => r.method === 'POST');
  await flushMicrotasks();
  assert.equal(http.requests.filter((r) => r.method === 'POST').length, 0, 'no second request while the first is open');
  http.answer(first, 202, { accepted: 1 });
  const second = await http.next((r) => r.method === 'POST');
  assert.deepEqual(JSON.parse(second.body).map((c) => c.id), [2, 3]);
  http.answer(second, 202, { accepted: 2 });
  transport.close();
});

test('poll: ack is the seq of the last response fully handed over, and a failed poll is retried with the same ack', async () => {
  const http = scriptedFetch();
  const timers = new FakeTimers();
  const handlers = handlersRecording();
  const transport = pollTransport.create({ baseUrl: 'http://hub', timers, log: () => {}, pollTimeoutMs: 25000, fetch: http.fetch });
  transport.open(handlers);
  http.answer(await http.next((r) => r.url === 'http://hub/connection/poll'), 200, { session: 'S', seq: 0 });
  const poll1 = await http.next((r) => r.url.startsWith('http://hub/connection/poll/S?'));
  assert.match(poll1.url, /ack=0&timeout=25000/);
  http.answer(poll1, 200, { seq: 2, messages: [{ id: 1, result: {} }, { push: 'ping' }] });
  const poll2 = await http.next((r) => r.url.startsWith('http://hub/connection/poll/S?'));
  assert.match(poll2.url, /ack=2&/);
  poll2.reject(new TypeError('network error')); // the response is lost: nothing after seq 2 was processed
  await timers.advance(1000);
  const retry = await http.next((r) => r.url.startsWith('http://hub/connection/poll/S?'));
  assert.match(retry.url, /ack=2&/);
  http.answer(retry, 200, { seq: 3, messages: [{ push: 'publication', channel: 'a', epoch: 'e', offset: 1, data: 1 }] });
  const poll3 = await http.next((r) => r.url.startsWith('http://hub/connection/poll/S?'));
  assert.match(poll3.url, /ack=3&/);
  assert.deepEqual(handlers.events.slice(1).map((m) => m.id ?? m.push), [1, 'ping', 'publication']);
  transport.close();
  const goodbye = await http.next((r) => r.method === 'DELETE');
  assert.equal(goodbye.url, 'http://hub/connection/poll/S');
});

test('poll: an unknown session (404) ends the transport so the client opens a new one and resubscribes', async () => {
  const http = scriptedFetch();
  const handlers = handlersRecording();
  const transport = pollTransport.create({ baseUrl: 'http://hub', timers: new FakeTimers(), log: () => {}, pollTimeoutMs: 25000, fetch: http.fetch });
  transport.open(handlers);
  http.answer(await http.next((r) => r.url === 'http://hub/connection/poll'), 200, { session: 'S', seq: 0 });
  const poll = await http.next((r) => r.url.includes('/connection/poll/S?'));
  http.answer(poll, 404, { error: { code: 129, name: 'session_not_found', reason: 'no open session with this id' } });
  await flushMicrotasks();
  await flushMicrotasks();
  const close = handlers.events.find((e) => e.close)?.close;
  assert.equal(close.code, 1006);
  assert.match(close.reason, /404 129/);
});

test('poll: a disconnect push ends the transport with its code after the batch is delivered', async () => {
  const http = scriptedFetch();
  const handlers = handlersRecording();
  const transport = pollTransport.create({ baseUrl: 'http://hub', timers: new FakeTimers(), log: () => {}, pollTimeoutMs: 25000, fetch: http.fetch });
  transport.open(handlers);
  http.answer(await http.next((r) => r.url === 'http://hub/connection/poll'), 200, { session: 'S', seq: 0 });
  const poll = await http.next((r) => r.url.includes('/connection/poll/S?'));
  http.answer(poll, 200, {
    seq: 2,
    messages: [
      { push: 'publication', channel: 'a', epoch: 'e', offset: 1, data: 1 },
      { push: 'disconnect', code: 4001, reason: 'server shutting down', reconnect: true },
    ],
  });
  await flushMicrotasks();
  await flushMicrotasks();
  assert.deepEqual(handlers.events.at(-1), { close: { code: 4001, reason: 'server shutting down' } });
  assert.equal(handlers.events.filter((e) => e.push === 'publication').length, 1);
});

test('a command body the server refuses as a whole (413) becomes an error reply for each command in it', async () => {
  const http = scriptedFetch();
  const handlers = handlersRecording();
  const transport = pollTransport.create({ baseUrl: 'http://hub', timers: new FakeTimers(), log: () => {}, pollTimeoutMs: 25000, fetch: http.fetch });
  transport.open(handlers);
  http.answer(await http.next((r) => r.url === 'http://hub/connection/poll'), 200, { session: 'S', seq: 0 });
  await flushMicrotasks(); // commands may be sent once the transport reported open
  transport.send([{ id: 9, cmd: 'publish', channel: 'a', data: 'x'.repeat(10) }]);
  const post = await http.next((r) => r.method === 'POST');
  http.answer(post, 413, { error: { code: 110, name: 'message_too_large', reason: 'body larger than 65536 bytes (limits.max_message_bytes)' } });
  await flushMicrotasks();
  await flushMicrotasks();
  const reply = handlers.events.find((e) => e.id === 9);
  assert.equal(reply.error.code, 110);
  transport.close();
});

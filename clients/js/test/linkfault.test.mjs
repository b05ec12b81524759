// The link-fault proxy itself: each fault it offers behaves as the client tests assume.

import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startLinkFault, startControlServer } from '../../../tools/linkfault/linkfault.mjs';

let upstream;
let proxy;
let releaseStream;

before(async () => {
  // An upstream whose event stream stays open until the test releases it, and a plain JSON route.
  upstream = http.createServer((request, response) => {
    if (request.url === '/stream') {
      response.writeHead(200, { 'content-type': 'text/event-stream', connection: 'close' });
      response.write('data: first\n\n');
      releaseStream = () => response.end('data: last\n\n');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{"ok":true}');
  });
  await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  proxy = await startLinkFault({ target: `http://127.0.0.1:${upstream.address().port}` });
});

after(async () => {
  await proxy.close();
  upstream.close();
  upstream.closeAllConnections?.();
});

async function readFirstChunk(response) {
  const reader = response.body.getReader();
  const { value } = await reader.read();
  return { text: new TextDecoder().decode(value), reader };
}

test('requests pass through unchanged by default', async () => {
  const response = await fetch(`${proxy.url}/json`);
  assert.deepEqual(await response.json(), { ok: true });
});

test('an event stream passes through as it is written when buffering is off', async () => {
  const response = await fetch(`${proxy.url}/stream`);
  const { text, reader } = await readFirstChunk(response);
  assert.equal(text, 'data: first\n\n');
  releaseStream();
  await reader.cancel();
});

test('with buffering on, an event stream arrives only when it ends, head included', async () => {
  proxy.bufferStreams(true);
  try {
    let answered = false;
    const pending = fetch(`${proxy.url}/stream`).then((response) => {
      answered = true;
      return response.text();
    });
    // The upstream has written its head and first event; wait until the proxy holds them, then check that
    // nothing reached the client.
    await waitUntil(() => proxy.stats.bufferedStreams === 1 && releaseStream);
    assert.equal(answered, false);
    releaseStream();
    assert.equal(await pending, 'data: first\n\ndata: last\n\n');
    // Ordinary responses are not held.
    assert.deepEqual(await (await fetch(`${proxy.url}/json`)).json(), { ok: true });
  } finally {
    proxy.bufferStreams(false);
  }
});

test('with WebSocket refused, an upgrade request is answered 403 and never reaches the server', async () => {
  proxy.refuseWebSocket(true);
  try {
    const status = await new Promise((resolve, reject) => {
      const request = http.request(`${proxy.url}/ws`, {
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
      });
      request.on('response', (response) => resolve(response.statusCode));
      request.on('upgrade', () => resolve(101));
      request.on('error', reject);
      request.end();
    });
    assert.equal(status, 403);
    assert.equal(proxy.stats.refusedUpgrades, 1);
  } finally {
    proxy.refuseWebSocket(false);
  }
});

test('cut drops open connections; offline also refuses new ones until lifted', async () => {
  releaseStream = null;
  const response = await fetch(`${proxy.url}/stream`);
  const { reader } = await readFirstChunk(response);
  proxy.cut();
  // A close-delimited body may end or fail on a reset, depending on the reader: either way the stream is over.
  const outcome = await reader.read().then(({ done }) => (done ? 'ended' : 'data'), () => 'failed');
  assert.notEqual(outcome, 'data');
  proxy.setOffline(true);
  await assert.rejects(fetch(`${proxy.url}/json`));
  proxy.setOffline(false);
  assert.deepEqual(await (await fetch(`${proxy.url}/json`)).json(), { ok: true });
  releaseStream?.();
});

test('latency delays bytes without reordering them', async () => {
  proxy.setLatency(150);
  try {
    const started = Date.now();
    const response = await fetch(`${proxy.url}/json`);
    assert.deepEqual(await response.json(), { ok: true });
    assert.ok(Date.now() - started >= 300, 'request and response each delayed by 150 ms');
  } finally {
    proxy.setLatency(0);
  }
});

test('the control port drives the same switches over HTTP', async () => {
  const control = await startControlServer(proxy);
  try {
    const answer = await (await fetch(`${control.url}/websocket?refuse=1`, { method: 'POST' })).json();
    assert.equal(answer.settings.refuseWebSocket, true);
    await fetch(`${control.url}/websocket?refuse=0`, { method: 'POST' });
    assert.equal(proxy.settings.refuseWebSocket, false);
    const stats = await (await fetch(`${control.url}/stats`)).json();
    assert.ok(stats.stats.connections > 0);
  } finally {
    control.close();
  }
});

async function waitUntil(check, timeout = 5000) {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

#!/usr/bin/env node
// Link-fault proxy: a TCP proxy between clients and a Switchboard server that a test controls, to produce the
// network misfortunes a browser client must survive — a cut link, a proxy that refuses WebSocket upgrades, a proxy
// that buffers streamed responses until they end, added latency. It reads just enough HTTP (the first request head
// of a connection, the first response head) to recognise upgrades and event streams; everything else is bytes. A
// connection that starts with a TLS handshake record is bytes from the start (cuts, latency and offline apply).
//
// Programmatic:  const proxy = await startLinkFault({ target: 'http://127.0.0.1:8080' }); proxy.url; proxy.cut();
// Command line:  node tools/linkfault/linkfault.mjs --target http://127.0.0.1:8080 [--port 0] [--control-port 0]
//   prints "linkfault listening on http://127.0.0.1:P control http://127.0.0.1:C"; the control port takes
//   POST /cut, /offline?on=1|0, /websocket?refuse=1|0, /buffer?on=1|0, /stall?on=1|0, /latency?ms=N,
//   /target?url=U; GET /stats.

import net from 'node:net';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

const MAX_HEAD_BYTES = 64 * 1024;

export async function startLinkFault({ target, port = 0, host = '127.0.0.1' } = {}) {
  if (!target) throw new Error('startLinkFault needs a target URL');
  let upstream = new URL(target);
  const sockets = new Set();
  const settings = { offline: false, refuseWebSocket: false, bufferStreams: false, latencyMs: 0, stalled: false };
  const stats = { connections: 0, refusedUpgrades: 0, refusedOffline: 0, bufferedStreams: 0, cuts: 0, open: 0 };

  const track = (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    return socket;
  };

  const kill = (socket) => {
    // A reset rather than a polite FIN: that is what a dropped link or a killed NAT entry looks like.
    if (typeof socket.resetAndDestroy === 'function' && !socket.destroyed && socket.readyState !== 'opening') {
      socket.resetAndDestroy();
    } else {
      socket.destroy();
    }
  };

  const server = net.createServer((client) => {
    track(client);
    client.setNoDelay(true);
    if (settings.offline) {
      stats.refusedOffline++;
      kill(client);
      return;
    }
    stats.connections++;
    let head = Buffer.alloc(0);
    const onHeadData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      if (head[0] === 0x16) {
        // A TLS handshake record: nothing to read inside, so the connection is only bytes (cuts, latency and
        // offline still apply; refusing upgrades and buffering streams cannot).
        client.off('data', onHeadData);
        client.pause();
        connectUpstream(client, head, { opaque: true });
        return;
      }
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > MAX_HEAD_BYTES) kill(client);
        return;
      }
      client.off('data', onHeadData);
      client.pause();
      const headText = head.subarray(0, end).toString('latin1');
      const isUpgrade = /^upgrade:\s*.*websocket/im.test(headText);
      if (isUpgrade && settings.refuseWebSocket) {
        stats.refusedUpgrades++;
        const body = 'WebSocket blocked by linkfault proxy';
        client.end(
          `HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n` +
            `connection: close\r\n\r\n${body}`,
        );
        return;
      }
      // One request per connection: the proxy only reads the first request and response heads, so keep-alive
      // reuse would let later responses slip past the faults (many real proxies behave the same way).
      connectUpstream(client, withConnectionClose(head, end));
    };
    client.on('data', onHeadData);
  });

  function connectUpstream(client, firstBytes, { opaque = false } = {}) {
    const server = track(net.connect({ host: upstream.hostname, port: Number(upstream.port || 80), noDelay: true }));
    stats.open++;
    // A side that closed after a clean end gets its bytes delivered and a clean end passed on; one that vanished
    // (error, reset) takes the other side down with it.
    let serverEnded = false;
    let clientEnded = false;
    server.on('close', () => {
      stats.open--;
      if (!serverEnded) kill(client);
    });
    client.on('close', () => {
      if (!clientEnded) kill(server);
    });
    const toServer = delayedWriter(server, () => settings.latencyMs, () => settings.stalled);
    toServer.write(firstBytes);
    client.on('data', (chunk) => toServer.write(chunk));
    client.on('end', () => {
      clientEnded = true;
      toServer.end();
    });
    client.resume();

    const toClient = delayedWriter(client, () => settings.latencyMs, () => settings.stalled);
    let responseHead = Buffer.alloc(0);
    let decided = opaque;
    let holding = false;
    const held = [];
    server.on('data', (chunk) => {
      if (!decided) {
        responseHead = Buffer.concat([responseHead, chunk]);
        const end = responseHead.indexOf('\r\n\r\n');
        if (end === -1 && responseHead.length < MAX_HEAD_BYTES) return;
        decided = true;
        const headText = responseHead.subarray(0, end === -1 ? responseHead.length : end).toString('latin1');
        holding = settings.bufferStreams && /^content-type:\s*text\/event-stream/im.test(headText);
        if (holding) stats.bufferedStreams++;
        chunk = end === -1 || /^HTTP\/1\.\d 101/.test(headText) ? responseHead : withConnectionClose(responseHead, end);
      }
      if (holding) held.push(chunk);
      else toClient.write(chunk);
    });
    server.on('end', () => {
      serverEnded = true;
      // The buffering proxy lets go of a stream only when it is complete, head included.
      for (const chunk of held) toClient.write(chunk);
      toClient.end();
    });
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();

  const proxy = {
    port: address.port,
    url: `http://${host}:${address.port}`,
    stats,
    settings,
    /** Drops every open connection at once (both directions, with a TCP reset). */
    cut() {
      stats.cuts++;
      for (const socket of [...sockets]) kill(socket);
    },
    /** Offline: cuts everything and refuses new connections until set back. */
    setOffline(on) {
      settings.offline = Boolean(on);
      if (settings.offline) proxy.cut();
    },
    /** Answers WebSocket upgrade requests with 403, as a proxy that does not speak WebSocket. */
    refuseWebSocket(on = true) {
      settings.refuseWebSocket = Boolean(on);
    },
    /** Holds text/event-stream responses until they end, as a proxy that buffers whole responses. */
    bufferStreams(on = true) {
      settings.bufferStreams = Boolean(on);
    },
    /** Stalled: connections stay open but no byte gets through either way (a dead link nobody closed). */
    setStalled(on) {
      settings.stalled = Boolean(on);
    },
    setLatency(ms) {
      settings.latencyMs = Math.max(0, Number(ms) || 0);
    },
    /** Points new connections at another server (e.g. one restarted on a new port). */
    setTarget(url) {
      upstream = new URL(url);
    },
    async close() {
      proxy.cut();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return proxy;
}

/** The message head (ending at `end`, the index of its blank line) with its Connection header set to `close`. */
function withConnectionClose(message, end) {
  const headText = message.subarray(0, end).toString('latin1');
  if (/^upgrade:/im.test(headText)) return message;
  const lines = headText.split('\r\n').filter((line, index) => index === 0 || !/^(connection|keep-alive):/i.test(line));
  lines.push('Connection: close');
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), message.subarray(end)]);
}

/** Writes chunks to `socket` after the current latency, never reordering them. */
function delayedWriter(socket, latencyMs, stalled) {
  const queue = [];
  let timer = null;
  let ending = false;
  let lastDue = 0;
  const flush = () => {
    timer = null;
    const now = Date.now();
    while (queue.length > 0 && queue[0].due <= now) {
      if (!socket.destroyed) socket.write(queue.shift().chunk);
      else queue.shift();
    }
    if (queue.length > 0) timer = setTimeout(flush, queue[0].due - now);
    else if (ending && !socket.destroyed) socket.end();
  };
  return {
    write(chunk) {
      if (stalled()) return; // a black hole: the bytes vanish and nobody is told
      const delay = latencyMs();
      if (delay === 0 && queue.length === 0) {
        if (!socket.destroyed) socket.write(chunk);
        return;
      }
      lastDue = Math.max(Date.now() + delay, lastDue);
      queue.push({ chunk, due: lastDue });
      if (!timer) timer = setTimeout(flush, Math.max(0, queue[0].due - Date.now()));
    },
    end() {
      ending = true;
      if (queue.length === 0 && !socket.destroyed) socket.end();
    },
  };
}

/** A tiny HTTP control API so that tests in other languages (the Python browser tests) can drive a proxy. */
export async function startControlServer(proxy, { port = 0, host = '127.0.0.1' } = {}) {
  const server = http.createServer((request, response) => {
    const url = new URL(request.url, 'http://control');
    const flag = (name) => ['1', 'true', 'on', 'yes'].includes(String(url.searchParams.get(name) ?? '1'));
    let ok = true;
    if (request.method === 'GET' && url.pathname === '/stats') {
      // falls through to the answer below
    } else if (request.method !== 'POST') ok = false;
    else if (url.pathname === '/cut') proxy.cut();
    else if (url.pathname === '/offline') proxy.setOffline(flag('on'));
    else if (url.pathname === '/websocket') proxy.refuseWebSocket(flag('refuse'));
    else if (url.pathname === '/buffer') proxy.bufferStreams(flag('on'));
    else if (url.pathname === '/stall') proxy.setStalled(flag('on'));
    else if (url.pathname === '/latency') proxy.setLatency(Number(url.searchParams.get('ms') ?? 0));
    else if (url.pathname === '/target') proxy.setTarget(String(url.searchParams.get('url')));
    else ok = false;
    response.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' });
    response.end(JSON.stringify(ok ? { settings: proxy.settings, stats: proxy.stats } : { error: 'unknown control' }));
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  return { port: server.address().port, url: `http://${host}:${server.address().port}`, close: () => server.close() };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const option = (name, fallback) => {
    const index = args.indexOf(`--${name}`);
    return index === -1 ? fallback : args[index + 1];
  };
  const proxy = await startLinkFault({ target: option('target'), port: Number(option('port', 0)) });
  const control = await startControlServer(proxy, { port: Number(option('control-port', 0)) });
  console.log(`linkfault listening on ${proxy.url} control ${control.url}`);
}

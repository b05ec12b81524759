#!/usr/bin/env node
// HTTP-fault proxy: an HTTP/1.1 proxy in front of a Switchboard server that answers some requests with 503 itself
// (the server never sees them) and drops the response of others after the server handled them (the client sees its
// connection end without an answer). It tests publishers that retry with idempotency keys (docs/swift.md).
//
// Command line:  node tools/linkfault/httpfault.mjs --target http://127.0.0.1:8080 [--port 0] [--refuse 0.1]
//                [--drop 0.05] [--seed 1] [--refuse-first 0] [--status 503] [--retry-after SECONDS]
//   prints "httpfault listening on http://127.0.0.1:P"; GET /__httpfault/stats answers the counts as JSON.
// Decisions come from a seeded generator (mulberry32), so a run with the same seed and the same request order is
// the same run. --refuse-first N refuses the first N requests whatever the roll; --status sets the refusals' status
// (503 or 429) and --retry-after adds that header to them (tests of publishers that honour it).
import http from 'node:http';
import { fileURLToPath } from 'node:url';

function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startHTTPFault({
  target,
  port = 0,
  host = '127.0.0.1',
  refuse = 0.1,
  drop = 0.05,
  seed = 1,
  refuseFirst = 0,
  status = 503,
  retryAfter = null,
}) {
  const upstream = new URL(target);
  const random = mulberry32(seed);
  const stats = { requests: 0, refused: 0, dropped: 0, forwarded: 0 };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  const server = http.createServer((request, response) => {
    if (request.url === '/__httpfault/stats') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(stats));
      return;
    }
    stats.requests++;
    const roll = random();
    if (roll < refuse || stats.requests <= refuseFirst) {
      stats.refused++;
      request.resume();
      const error = status === 429 ? '{"code":128,"name":"rate_limited"' : '{"code":136,"name":"engine_unavailable"';
      const body = `{"error":${error},"reason":"refused by httpfault"}}`;
      const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
      if (retryAfter !== null) headers['retry-after'] = String(retryAfter);
      response.writeHead(status, headers);
      response.end(body);
      return;
    }
    const dropping = roll < refuse + drop;
    const headers = { ...request.headers, host: upstream.host };
    const forward = http.request(
      { host: upstream.hostname, port: Number(upstream.port || 80), method: request.method, path: request.url, headers, agent },
      (answer) => {
        const chunks = [];
        answer.on('data', (chunk) => chunks.push(chunk));
        answer.on('end', () => {
          if (dropping) {
            // The server published; the client never learns it.
            stats.dropped++;
            request.socket.destroy();
            return;
          }
          stats.forwarded++;
          response.writeHead(answer.statusCode, answer.headers);
          response.end(Buffer.concat(chunks));
        });
      },
    );
    forward.on('error', () => request.socket.destroy());
    request.pipe(forward);
  });
  server.keepAliveTimeout = 5000;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  return {
    port: address.port,
    url: `http://${host}:${address.port}`,
    stats,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const option = (name, fallback) => {
    const index = args.indexOf(`--${name}`);
    return index === -1 ? fallback : args[index + 1];
  };
  const proxy = await startHTTPFault({
    target: option('target'),
    port: Number(option('port', 0)),
    refuse: Number(option('refuse', 0.1)),
    drop: Number(option('drop', 0.05)),
    seed: Number(option('seed', 1)),
    refuseFirst: Number(option('refuse-first', 0)),
    status: Number(option('status', 503)),
    retryAfter: option('retry-after', null),
  });
  console.log(`httpfault listening on ${proxy.url}`);
}

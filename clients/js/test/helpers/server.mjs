// Starts a real Switchboard server for a test. The binary is $SWITCHBOARD_BIN, else <repo>/.build/debug/switchboard.

import { spawn } from 'node:child_process';
import http from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHmac } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const API_KEY = 'js-client-tests-api-key-0123456789';
export const HMAC_SECRET = 'js-client-tests-hmac-secret-0123456789abcdef';

/** Rate limits off: the tests publish and reconnect far faster than any real client should. */
const TEST_SETTINGS = [
  'limits.commands_per_second=0',
  'limits.publishes_per_second_per_user=0',
  'limits.publishes_per_second_per_channel=0',
  `auth.hmac_secret=${HMAC_SECRET}`,
  'shutdown.drain_timeout_ms=200',
  // Deep history, so that a client kept away for seconds by the fault loops still recovers instead of resetting.
  'channel_defaults.history_size=100000',
];

export function serverBinary() {
  const binary = process.env.SWITCHBOARD_BIN || path.join(repoRoot, '.build/debug/switchboard');
  if (!existsSync(binary)) {
    throw new Error(`switchboard binary not found at ${binary}: build it or set SWITCHBOARD_BIN`);
  }
  return binary;
}

/**
 * The server refuses unknown SWITCHBOARD_* variables ("unknown environment variable"), and SWITCHBOARD_BIN is one
 * the tests use themselves; none of the caller's SWITCHBOARD_* settings should leak into a test server anyway.
 */
function serverEnvironment() {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SWITCHBOARD_')));
}

/** Servers still running when the test process exits (a failed test that never reached stop()) are killed with it. */
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startServer({ port = 0, settings = [] } = {}) {
  // The default engine (SQLite) in a data directory of this start's own: servers run side by side, and a restarted
  // one starts from an empty history as these suites expect.
  const dataDirectory = mkdtempSync(path.join(tmpdir(), 'switchboard-data-'));
  const args = ['serve', '--port', String(port), '--set', `engine.sqlite.path=${dataDirectory}`];
  for (const setting of [...TEST_SETTINGS, ...settings]) args.push('--set', setting);
  const child = spawn(serverBinary(), args, {
    env: { ...serverEnvironment(), SWITCHBOARD_API_KEY: API_KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      rmSync(dataDirectory, { recursive: true, force: true });
      resolve({ code, signal });
    }),
  );
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 15 s:\n${output}`)), 15000);
    const onData = (chunk) => {
      output += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => (output += chunk));
    exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });
  const server = {
    url,
    port: Number(new URL(url).port),
    process: child,
    /** Publishes through the HTTP API, as an application backend does. */
    async publish(channel, data, idempotencyKey) {
      const response = await request(`${url}/api/publish`, {
        method: 'POST',
        headers: { authorization: `apikey ${API_KEY}` },
        body: JSON.stringify({ channel, data, ...(idempotencyKey ? { idempotencyKey } : {}) }),
      });
      const body = await response.json();
      if (response.status !== 200) throw new Error(`publish failed: ${response.status} ${JSON.stringify(body)}`);
      return body;
    },
    async history(channel, limit = 1000) {
      const response = await request(`${url}/api/history?channel=${encodeURIComponent(channel)}&limit=${limit}`, {
        headers: { authorization: `apikey ${API_KEY}` },
      });
      return response.json();
    },
    async metrics() {
      return (await request(`${url}/metrics`)).text();
    },
    /** Stops the server (SIGTERM: graceful drain, clients get 4001) and waits for the process to exit. */
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  return server;
}

/**
 * HTTP from the test itself, on a fresh connection each time (no keep-alive pool). Node's fetch pools connections
 * per origin, and Node's WebSocket reuses idle pooled connections for its upgrade, which this server answers with a
 * 307 (stream endpoints are served only on the first request of a connection, protocol.md §1). Keeping the test's
 * own requests out of that pool keeps them from breaking the WebSocket clients under test.
 */
export function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const outgoing = http.request(url, { method, headers, agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode,
          text: async () => text,
          json: async () => JSON.parse(text),
        }),
      );
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** Whether the server has the long-poll and SSE command endpoints (a feature probe: older builds answer 404). */
export async function hasSessionEndpoints(server) {
  const response = await request(`${server.url}/connection/poll`, { method: 'POST' });
  const body = await response.json().catch(() => ({}));
  if (response.status === 200 && body.session) {
    await request(`${server.url}/connection/poll/${body.session}`, { method: 'DELETE' }).catch(() => {});
    return true;
  }
  return false;
}

function base64url(value) {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** An HS256 connection token signed with the test secret. `expiresIn` in seconds may be negative (within leeway). */
export function mintToken({ sub = 'alice', expiresIn = 3600, caps, extra = {} } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const header = base64url({ alg: 'HS256', typ: 'JWT' });
  const payload = base64url({ sub, iat: now, exp: now + expiresIn, ...(caps ? { caps } : {}), ...extra });
  const signature = createHmac('sha256', HMAC_SECRET).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

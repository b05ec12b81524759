#!/usr/bin/env node
// Manual smoke check in a real browser (Debian's Chromium, headless, driven over the DevTools protocol): a page
// served by the hub loads the IIFE bundle and the ES module, and publishes/receives over each transport. Not part of
// test.sh (the real-browser suite is a later task); run: SWITCHBOARD_BIN=… node scripts/browser-smoke.mjs

import { spawn } from 'node:child_process';
import { mkdtempSync, copyFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../test/helpers/server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const webRoot = mkdtempSync(path.join(tmpdir(), 'sb-smoke-web-'));
const profile = mkdtempSync(path.join(tmpdir(), 'sb-smoke-profile-'));
for (const file of ['switchboard.iife.js', 'switchboard.mjs']) copyFileSync(path.join(here, '../dist', file), path.join(webRoot, file));

const scenario = `
  const until = (check, ms = 10000) => new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => check() ? resolve() : Date.now() - started > ms ? reject(new Error('timeout')) : setTimeout(tick, 10);
    tick();
  });
  window.__log = [];
  async function run(api, label) {
    const results = {};
    for (const transport of ['websocket', 'sse', 'poll']) {
      window.__log.push('--- ' + label + ' ' + transport);
      const client = api.createClient({ url: location.origin, transports: [transport],
        debug: (event, details) => window.__log.push(event + ' ' + JSON.stringify(details ?? '')) });
      const got = [];
      const channel = 'smoke:' + label + '-' + transport;
      const subscription = client.subscribe(channel, { onPublication: (p) => got.push(p.data.n) });
      await until(() => subscription.state === 'subscribed');
      const position = await client.publish(channel, { n: 1 });
      await until(() => got.length === 1);
      results[transport] = { connectedOver: client.state.transport, offset: position.offset, received: got };
      client.close();
    }
    return results;
  }`;
writeFileSync(
  path.join(webRoot, 'index.html'),
  `<!doctype html><meta charset="utf-8"><title>smoke</title>
<script src="switchboard.iife.js"></script>
<script type="module">
${scenario}
try {
  const module = await import('./switchboard.mjs');
  window.__result = { iife: await run(window.Switchboard, 'iife'), esm: await run(module, 'esm') };
} catch (error) { window.__result = { error: String(error && error.stack || error), log: window.__log.slice(-30) }; }
</script>`,
);

const server = await startServer({ settings: [`server.web_root=${webRoot}`] });
const browser = spawn('chromium', ['--headless=new', '--no-sandbox', '--disable-gpu', '--remote-debugging-port=0', `--user-data-dir=${profile}`, `${server.url}/index.html`], { stdio: ['ignore', 'ignore', 'pipe'] });
let exitCode = 1;
try {
  const devtools = await new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`chromium did not start:\n${text}`)), 20000);
    browser.stderr.on('data', (chunk) => {
      text += chunk;
      const match = /DevTools listening on (ws:\/\/[^\s]+)/.exec(text);
      if (match) { clearTimeout(timer); resolve(new URL(match[1])); }
    });
  });
  const pages = await (await fetch(`http://${devtools.host}/json/list`)).json();
  const page = pages.find((p) => p.type === 'page');
  const socket = new WebSocket(page.webSocketDebuggerUrl);
  await new Promise((resolve) => (socket.onopen = resolve));
  let id = 0;
  const call = (method, params) => new Promise((resolve) => {
    const callId = ++id;
    const onMessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.id === callId) { socket.removeEventListener('message', onMessage); resolve(message.result); }
    };
    socket.addEventListener('message', onMessage);
    socket.send(JSON.stringify({ id: callId, method, params }));
  });
  let result;
  const deadline = Date.now() + 60000;
  while (!result && Date.now() < deadline) {
    const answer = await call('Runtime.evaluate', { expression: 'JSON.stringify(window.__result ?? null)', returnByValue: true });
    result = JSON.parse(answer.result.value ?? 'null');
    if (!result) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  socket.close();
  console.log(JSON.stringify(result, null, 2));
  const ok = result && !result.error && ['iife', 'esm'].every((kind) =>
    ['websocket', 'sse', 'poll'].every((t) => result[kind][t].connectedOver === t && result[kind][t].received[0] === 1));
  console.log(ok ? 'browser smoke: OK' : 'browser smoke: FAILED');
  exitCode = ok ? 0 : 1;
} finally {
  const browserExited = new Promise((resolve) => browser.once('exit', resolve));
  browser.kill();
  await browserExited;
  await server.stop();
  rmSync(webRoot, { recursive: true, force: true });
  rmSync(profile, { recursive: true, force: true });
}
process.exit(exitCode);

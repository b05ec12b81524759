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

writeFileSync(
  path.join(webRoot, 'tabs.html'),
  `<!doctype html><meta charset="utf-8"><title>tab</title>
<script src="switchboard.iife.js"></script>
<script>
  window.__log = [];
  const client = Switchboard.createClient({ url: location.origin, shareAcrossTabs: true,
    debug: (event, details) => window.__log.push(event + ' ' + JSON.stringify(details ?? '')) });
  window.__got = [];
  const subscription = client.subscribe('tabs:news', { onPublication: (p) => window.__got.push(p.data.n) });
  window.__status = () => JSON.stringify({
    ready: client.state.status === 'connected' && subscription.state === 'subscribed',
    leader: client.isLeader === true, got: window.__got, state: client.state, sub: subscription.state,
    locks: Boolean(navigator.locks), log: window.__log.slice(-5) });
</script>`,
);

const server = await startServer({ settings: [`server.web_root=${webRoot}`] });
const browser = spawn('chromium', ['--headless=new', '--no-sandbox', '--disable-gpu', '--remote-debugging-port=0', `--user-data-dir=${profile}`, `${server.url}/index.html`], { stdio: ['ignore', 'ignore', 'pipe'] });
let exitCode = 1;

async function openDevtoolsSocket(url) {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => ((socket.onopen = resolve), (socket.onerror = reject)));
  let id = 0;
  const call = (method, params = {}) =>
    new Promise((resolve) => {
      const callId = ++id;
      const onMessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.id !== callId) return;
        socket.removeEventListener('message', onMessage);
        resolve(message.result);
      };
      socket.addEventListener('message', onMessage);
      socket.send(JSON.stringify({ id: callId, method, params }));
    });
  return { call, close: () => socket.close() };
}

async function until(check, what, ms = 30000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Three tabs with shareAcrossTabs: one server connection; the leader closes; the others carry on, nothing lost. */
async function crossTabCheck(devtools) {
  const browserSocket = await openDevtoolsSocket(devtools.href);
  const targets = [];
  for (let i = 0; i < 3; i++) targets.push((await browserSocket.call('Target.createTarget', { url: `${server.url}/tabs.html` })).targetId);
  const pages = await (await fetch(`http://${devtools.host}/json/list`)).json();
  const tabs = [];
  for (const targetId of targets) {
    const page = pages.find((p) => p.id === targetId);
    tabs.push({ targetId, devtools: await openDevtoolsSocket(page.webSocketDebuggerUrl) });
  }
  const status = async (tab) => {
    const answer = await tab.devtools.call('Runtime.evaluate', { expression: 'window.__status ? window.__status() : "null"', returnByValue: true });
    return JSON.parse(answer.result.value ?? 'null');
  };
  const websocketConnections = async () =>
    Number(/switchboard_connections\{transport="websocket"\} (\d+)/.exec(await server.metrics())?.[1] ?? 0);
  try {
    await until(async () => (await Promise.all(tabs.map(status))).every((s) => s?.ready), 'three ready tabs');
    const statuses = await Promise.all(tabs.map(status));
    const connections = await websocketConnections();
    for (let n = 1; n <= 3; n++) await server.publish('tabs:news', { n });
    await until(async () => (await Promise.all(tabs.map(status))).every((s) => s.got.length === 3), 'three publications in every tab');
    const leader = tabs[statuses.findIndex((s) => s.leader)];
    await browserSocket.call('Target.closeTarget', { targetId: leader.targetId });
    const survivors = tabs.filter((tab) => tab !== leader);
    for (let n = 4; n <= 5; n++) await server.publish('tabs:news', { n });
    await until(async () => (await Promise.all(survivors.map(status))).every((s) => s.got.length >= 5), 'five publications after the hand-over');
    const after = await Promise.all(survivors.map(status));
    const connectionsAfter = await until(async () => ((await websocketConnections()) === 1 ? 1 : 0), 'one connection after hand-over', 10000).catch(() => websocketConnections());
    const report = {
      leaders: statuses.filter((s) => s.leader).length,
      serverConnectionsFor3Tabs: connections,
      serverConnectionsAfterLeaderClosed: connectionsAfter,
      survivorsGot: after.map((s) => s.got),
      newLeaders: after.filter((s) => s.leader).length,
    };
    console.log('cross-tab:', JSON.stringify(report));
    return (
      report.leaders === 1 && connections === 1 && connectionsAfter === 1 && report.newLeaders === 1 &&
      after.every((s) => JSON.stringify(s.got) === '[1,2,3,4,5]')
    );
  } catch (error) {
    console.log('cross-tab check failed:', String(error));
    for (const tab of tabs) console.log(JSON.stringify(await status(tab).catch((e) => String(e))));
    return false;
  } finally {
    for (const tab of tabs) tab.devtools.close();
    browserSocket.close();
  }
}
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
  const tabsOk = await crossTabCheck(devtools);
  console.log(ok && tabsOk ? 'browser smoke: OK' : 'browser smoke: FAILED');
  exitCode = ok && tabsOk ? 0 : 1;
} finally {
  const browserExited = new Promise((resolve) => browser.once('exit', resolve));
  browser.kill();
  await browserExited;
  await server.stop();
  rmSync(webRoot, { recursive: true, force: true });
  rmSync(profile, { recursive: true, force: true });
}
process.exit(exitCode);

// SharedWorker mode without a browser: a fake port pair (structured clone, asynchronous delivery) links each "tab"
// (`createClient({ sharedWorker })` with an injected `openWorker`) to one SharedWorkerHub — the worker's side —
// whose real client talks to the fake server. FakeLocks stands in for navigator.locks (tab-death detection).

import test from 'node:test';
import assert from 'node:assert/strict';
import { createClient, SharedWorkerHub, WorkerTabClient, TabClient, SwitchboardClient } from '../dist/switchboard.mjs';
import { FakeServer, FakeLocks } from '../dist/testing.mjs';
import { waitFor } from './helpers/wait.mjs';

class FakePort {
  constructor() {
    this.onmessage = null;
    this.other = null;
    this.closed = false;
    this.posted = [];
  }
  postMessage(message) {
    if (this.closed) return;
    const copy = structuredClone(message); // what a real MessagePort does: functions would throw here
    this.posted.push(copy);
    const target = this.other;
    setImmediate(() => {
      if (!target.closed && !this.closed) target.onmessage?.({ data: copy });
    });
  }
  start() {}
  close() {
    this.closed = true;
  }
}

function portPair() {
  const a = new FakePort();
  const b = new FakePort();
  a.other = b;
  b.other = a;
  return [a, b];
}

let run = 0;

function setup({ server = new FakeServer(), locks = new FakeLocks(), overrides = {}, tabOptions = {} } = {}) {
  const url = `http://fake-worker-${++run}`;
  const hub = new SharedWorkerHub({ transports: [server.transport('websocket')], environment: null, backoff: { initialMs: 5, maxMs: 20 }, ...overrides }, locks);
  const tabs = [];
  const tabPorts = [];
  const open = (extra = {}) => {
    const tab = createClient({
      url,
      sharedWorker: '/switchboard-worker.js',
      openWorker: (scriptUrl, name) => {
        assert.equal(scriptUrl, '/switchboard-worker.js');
        assert.equal(name, `switchboard:${url}`);
        const [tabSide, workerSide] = portPair();
        hub.accept(workerSide);
        tabPorts.push(tabSide);
        return { port: tabSide };
      },
      locks,
      environment: null,
      ...tabOptions,
      ...extra,
    });
    tabs.push(tab);
    return tab;
  };
  return { server, hub, tabs, tabPorts, open, locks, closeAll: () => tabs.forEach((tab) => tab.close()) };
}

const collect = () => {
  const received = [];
  return { received, onPublication: (p) => received.push(p.data) };
};

test('five tabs share the worker\'s one connection and each keeps an exact copy of the stream', async () => {
  const { server, hub, tabs, open, closeAll } = setup();
  try {
    for (let i = 0; i < 5; i++) open();
    assert.ok(tabs.every((tab) => tab instanceof WorkerTabClient));
    const copies = tabs.map(() => collect());
    tabs.forEach((tab, i) => tab.subscribe('news', copies[i]));
    await waitFor(() => tabs.every((tab) => tab.state.status === 'connected'), { message: 'all tabs connected' });
    await waitFor(() => server.subscriberCount('news') === 1, { message: 'one shared subscription' });
    assert.equal(server.connections.size, 1);
    assert.equal(hub.tabs, 5);
    assert.equal(tabs[0].state.transport, 'websocket');
    for (let seq = 1; seq <= 20; seq++) server.publish('news', seq);
    const expected = Array.from({ length: 20 }, (_, i) => i + 1);
    await waitFor(() => copies.every((copy) => copy.received.length === 20), { message: 'twenty publications in every tab' });
    for (const copy of copies) assert.deepEqual(copy.received, expected);
    assert.ok(tabs.every((tab) => tab.inWorker));
  } finally {
    closeAll();
  }
});

test('publishing from a tab resolves with the offset; a retried idempotency key is stored once', async () => {
  const { server, tabs, open, closeAll } = setup();
  try {
    open();
    open();
    await waitFor(() => tabs.every((tab) => tab.state.status === 'connected'), { message: 'connected' });
    const first = await tabs[1].publish('chat', { text: 'hi' });
    assert.equal(first.offset, 1);
    const again = await tabs[0].publish('chat', { text: 'hi' }, { idempotencyKey: 'same' });
    const retried = await tabs[1].publish('chat', { text: 'hi' }, { idempotencyKey: 'same' });
    assert.equal(retried.offset, again.offset);
    const keys = server.received.filter((r) => r.command.cmd === 'publish').map((r) => r.command.idempotency_key ?? r.command.idempotencyKey);
    assert.equal(keys.length, 3);
    assert.ok(keys[0] && keys[0] !== 'same', 'a generated key per publish');
  } finally {
    closeAll();
  }
});

test('subscriptions are ref-counted per tab and across tabs; close() releases only that tab\'s share', async () => {
  const { server, hub, tabs, open, closeAll } = setup();
  try {
    open();
    open();
    const a1 = collect();
    const a2 = collect();
    const b = collect();
    const subA1 = tabs[0].subscribe('news', a1);
    const subA2 = tabs[0].subscribe('news', a2);
    tabs[1].subscribe('news', b);
    await waitFor(() => server.subscriberCount('news') === 1 && subA1.state === 'subscribed', { message: 'subscribed' });
    server.publish('news', 1);
    await waitFor(() => a1.received.length === 1 && a2.received.length === 1 && b.received.length === 1, { message: 'fan-out' });
    subA1.unsubscribe();
    subA2.unsubscribe();
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(server.subscriberCount('news'), 1, 'the other tab still wants it');
    server.publish('news', 2);
    await waitFor(() => b.received.length === 2, { message: 'the other tab undisturbed' });
    assert.equal(a1.received.length, 1);
    tabs[1].close();
    await waitFor(() => server.subscriberCount('news') === 0, { message: 'released on the server' });
    assert.equal(hub.tabs, 1);
    assert.equal(server.connections.size, 1, 'the connection stays for the remaining tab');
    tabs[0].close();
    await waitFor(() => hub.tabs === 0 && hub.client === null, { message: 'the worker closes the connection after the last tab' });
    await waitFor(() => server.connections.size === 0, { message: 'connection closed' });
  } finally {
    closeAll();
  }
});

test('a tab that dies without close() is noticed through its Web Lock and its subscriptions are released', async () => {
  const { server, hub, tabs, tabPorts, open, closeAll } = setup();
  try {
    open();
    open();
    const survivor = collect();
    tabs[0].subscribe('solo', {});
    tabs[1].subscribe('news', survivor);
    await waitFor(() => server.subscriberCount('solo') === 1 && server.subscriberCount('news') === 1, { message: 'subscribed' });
    // The page dies: no 'bye' reaches the worker, only its lock is released.
    tabPorts[0].close();
    tabs[0].releaseLock();
    await waitFor(() => hub.tabs === 1, { message: 'the worker noticed' });
    await waitFor(() => server.subscriberCount('solo') === 0, { message: 'dead tab\'s subscription released' });
    server.publish('news', 'still here');
    await waitFor(() => survivor.received.length === 1, { message: 'the survivor undisturbed' });
  } finally {
    closeAll();
  }
});

test('signals, presence, read marks and receipts are relayed through the worker', async () => {
  const server = new FakeServer({ presence: true });
  const { tabs, open, closeAll } = setup({ server, tabOptions: { token: 'bob' } });
  const alice = createClient({ url: 'http://fake-alice', token: 'alice', transports: [server.transport('websocket')], environment: null, shareAcrossTabs: false });
  try {
    open();
    const tab = open();
    await waitFor(() => tabs.every((t) => t.state.status === 'connected'), { message: 'tabs connected' });
    const signals = [];
    const receipts = [];
    const presences = [];
    const sub = tab.subscribe('dm:1', { onSignal: (s) => signals.push(s), onReceipt: (r) => receipts.push(r), onPresence: (p) => presences.push(p) });
    const aliceSub = alice.subscribe('dm:1', {});
    await waitFor(() => sub.state === 'subscribed' && aliceSub.state === 'subscribed', { message: 'subscribed' });
    assert.deepEqual(await tab.signal('dm:1', 'typing', { typing: true }), { coalesced: false });
    await waitFor(() => signals.length === 1, { message: 'signal relayed' });
    assert.equal((await tab.presence('dm:1')).clients, 2);
    const fromAlice = await alice.publish('dm:1', 'read me', { receipts: true });
    await tab.markRead('dm:1', fromAlice.offset);
    const fromTab = await tab.publish('dm:1', 'mine', { receipts: true });
    await alice.markRead('dm:1', fromTab.offset);
    await waitFor(() => receipts.length === 2, { message: 'receipts relayed' });
    const record = await tab.receipts('dm:1', fromTab.offset);
    assert.deepEqual(record.recipients, [{ user: 'alice', delivered: true, read: true }]);
    await assert.rejects(tab.markRead('dm:1', 999), { code: 134 });
  } finally {
    closeAll();
    alice.close();
  }
});

test('the worker asks a tab for tokens when the tabs have getToken (functions cannot cross to it)', async () => {
  let calls = 0;
  const { server, tabs, open, closeAll } = setup({ tabOptions: { getToken: async () => `token-${++calls}` } });
  try {
    open();
    await waitFor(() => tabs[0].state.status === 'connected', { message: 'connected' });
    const connect = server.received.find((r) => r.command.cmd === 'connect');
    assert.equal(connect.command.token, 'token-1');
    assert.equal(calls, 1);
  } finally {
    closeAll();
  }
});

test('without SharedWorker the client falls back to cross-tab sharing, or to its own connection', () => {
  const logs = [];
  const failing = { url: 'http://fake-nosw', sharedWorker: '/w.js', openWorker: () => { throw new Error('SharedWorker is not available here'); }, environment: null, autoConnect: false, debug: (event) => logs.push(event) };
  const crossTab = createClient({ ...failing, locks: new FakeLocks() });
  assert.ok(crossTab instanceof TabClient);
  crossTab.close();
  const own = createClient({ ...failing, openChannel: undefined, locks: undefined });
  const expected = typeof BroadcastChannel !== 'undefined' && globalThis.navigator?.locks ? TabClient : SwitchboardClient;
  assert.ok(own instanceof expected);
  own.close();
  assert.ok(logs.some((line) => /shared worker unavailable .* falling back to cross-tab sharing/.test(line)), logs.join('\n'));
});

test('a worker that errors or never answers: the tab falls back to its own connection and nothing is lost', async () => {
  for (const mode of ['error', 'silent']) {
    const server = new FakeServer();
    const logs = [];
    let handle;
    const tab = createClient({
      url: `http://fake-broken-${mode}`,
      sharedWorker: '/missing.js',
      sharedWorkerTimeoutMs: 50,
      openWorker: () => (handle = { port: portPair()[0] }),
      locks: new FakeLocks(),
      transports: [server.transport('websocket')],
      environment: null,
      debug: (event) => logs.push(event),
    });
    try {
      const copy = collect();
      tab.subscribe('news', copy);
      const published = tab.publish('news', 'queued before the fallback');
      if (mode === 'error') handle.onerror({ message: 'script 404' });
      assert.equal((await published).offset, 1);
      await waitFor(() => copy.received.length === 1, { message: `${mode}: own subscription works` });
      assert.equal(server.connections.size, 1);
      assert.equal(tab.inWorker, false);
      assert.ok(logs.some((line) => /shared worker did not start .* falls back to a connection of its own/.test(line)), logs.join('\n'));
    } finally {
      tab.close();
    }
    await waitFor(() => server.connections.size === 0, { message: 'closed' });
  }
});

test('a worker that stops after it started hands its lock to the tabs: each falls back to its own connection and nothing is lost or repeated', async () => {
  const server = new FakeServer();
  const locks = new FakeLocks();
  // The worker's side of the locks: its own lock is held until the test "kills" the worker, as a browser releases
  // the locks of a worker that stopped.
  let killWorker = null;
  const workerLocks = {
    request(name, callback) {
      if (!name.startsWith('switchboard-worker:')) return locks.request(name, callback);
      return locks.request(name, () => {
        void callback();
        return new Promise((resolve) => (killWorker = resolve));
      });
    },
  };
  // The tabs' own transports, for after the fallback.
  const { hub, tabPorts, open, closeAll } = setup({ server, locks: workerLocks, tabOptions: { locks, transports: [server.transport('websocket')] } });
  const logs = [];
  const tabs = [open({ debug: (event) => logs.push(event) }), open()];
  const copies = tabs.map(() => collect());
  try {
    const subscriptions = tabs.map((tab, index) => tab.subscribe('news', copies[index]));
    await waitFor(() => subscriptions.every((s) => s.state === 'subscribed') && killWorker !== null, { message: 'subscribed through the worker' });
    assert.equal(server.connections.size, 1);
    for (let n = 1; n <= 5; n++) server.publish('news', n);
    await waitFor(() => copies.every((copy) => copy.received.length === 5), { message: 'the first five in both tabs' });

    // The worker dies: its ports go quiet, its connection drops, its lock is released.
    for (const port of tabPorts) port.other.closed = true;
    hub.client.close();
    for (let n = 6; n <= 8; n++) server.publish('news', n); // published while no tab has a connection
    const publishing = tabs[1].publish('news', 'from the tab, after the worker died');
    killWorker();

    await waitFor(() => tabs.every((tab) => tab.state.status === 'connected' && !tab.inWorker), { message: 'tabs on their own connections' }).catch((error) => {
      throw new Error(`${error.message}: ${JSON.stringify(tabs.map((tab) => [tab.state, tab.inWorker]))}\n${logs.join('\n')}`);
    });
    assert.equal((await publishing).offset, 9);
    for (let n = 10; n <= 12; n++) server.publish('news', n);
    const expected = [1, 2, 3, 4, 5, 6, 7, 8, 'from the tab, after the worker died', 10, 11, 12];
    await waitFor(() => copies.every((copy) => copy.received.length === expected.length), { message: 'every tab caught up' });
    for (const copy of copies) assert.deepEqual(copy.received, expected);
    assert.equal(server.connections.size, 2);
    assert.equal(tabs[0].stats.resets, 0);
    assert.ok(logs.some((line) => /the shared worker stopped; this tab falls back/.test(line)), logs.join('\n'));
  } finally {
    closeAll();
  }
});

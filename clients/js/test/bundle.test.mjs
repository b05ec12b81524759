// The build outputs a browser can load: an ES module and a classic script defining the global `Switchboard`.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const dist = new URL('../dist/', import.meta.url);

test('the IIFE bundle defines a global Switchboard with createClient, and needs no module system', () => {
  const source = readFileSync(new URL('switchboard.iife.js', dist), 'utf8');
  const page = { console };
  page.globalThis = page;
  vm.runInNewContext(source, page);
  assert.equal(typeof page.Switchboard.createClient, 'function');
  assert.equal(typeof page.Switchboard.SwitchboardError, 'function');
  assert.doesNotMatch(source, /\brequire\(/);
});

test('the ES module exports the client API and imports nothing', async () => {
  const source = readFileSync(new URL('switchboard.mjs', dist), 'utf8');
  assert.doesNotMatch(source, /^import /m);
  const module = await import(new URL('switchboard.mjs', dist));
  for (const name of ['createClient', 'SwitchboardClient', 'websocketTransport', 'sseTransport', 'pollTransport', 'Backoff']) {
    assert.ok(module[name], name);
  }
});

test('type declarations are emitted for the public entry point', () => {
  const declarations = readFileSync(new URL('types/index.d.ts', dist), 'utf8');
  assert.match(declarations, /createClient/);
});

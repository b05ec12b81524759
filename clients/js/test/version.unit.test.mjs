// The version the client sends as `sdk` (protocol.md §13) is the package's own version.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FakeServer, FakeTimers } from '../dist/testing.mjs';
import { createClient } from '../dist/switchboard.mjs';

test('connect names the client as switchboard-js/<package.json version>', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const server = new FakeServer();
  const timers = new FakeTimers();
  const client = createClient({ url: 'http://fake', transports: [server.transport('websocket')], timers, environment: null });
  await timers.advance(0);
  const connect = server.received.find((received) => received.command.cmd === 'connect').command;
  assert.equal(connect.sdk, `switchboard-js/${version}`);
  client.close();
});

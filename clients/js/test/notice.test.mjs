// The operator's deprecation notice (protocol.md §13) against a real server: the client names itself with `sdk` in
// `connect`, and a server told to warn this client's version pushes a `notice` that the client emits — on every
// transport — and otherwise logs once with console.warn.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { useHub } from './helpers/hub.mjs';
import { waitFor } from './helpers/wait.mjs';

const packageVersion = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
const hub = useHub({
  settings: [
    `protocol.notice=switchboard-js ${packageVersion} is retired: upgrade`,
    'protocol.notice_sunset=2027-06-30',
    `protocol.notice_sdks=switchboard-js/${packageVersion}`,
  ],
});

for (const transport of ['websocket', 'sse', 'poll']) {
  test(`${transport}: a server warning this version pushes a notice the client emits`, async () => {
    const client = hub.open({ transports: [transport] });
    const notices = [];
    client.on('notice', (notice) => notices.push(notice));
    await waitFor(() => notices.length === 1, { message: 'a notice' });
    assert.deepEqual(notices[0], { kind: 'deprecation', message: `switchboard-js ${packageVersion} is retired: upgrade`, sunset: '2027-06-30' });
  });
}

test('without a notice listener the client logs the notice once with console.warn', async (t) => {
  const warnings = [];
  t.mock.method(console, 'warn', (...args) => warnings.push(args.join(' ')));
  const client = hub.open({ transports: ['websocket'], backoff: { initialMs: 1, maxMs: 5 } });
  await waitFor(() => warnings.length === 1, { message: 'a warning' });
  assert.equal(warnings[0], `[switchboard] switchboard-js ${packageVersion} is retired: upgrade (sunset 2027-06-30)`);
  // A reconnect brings the notice again; the warning is not repeated.
  client.disconnect();
  client.connect();
  await waitFor(() => client.state.status === 'connected');
  await client.publish('notice:probe', 1);
  assert.equal(warnings.length, 1);
});

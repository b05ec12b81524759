// client.history against a real server: pages forward from a position, the newest page, and earlier pages.

import test from 'node:test';
import assert from 'node:assert/strict';
import { NotConnectedError } from '../dist/switchboard.mjs';
import { useHub } from './helpers/hub.mjs';
import { waitForState, isConnected } from './helpers/wait.mjs';

const hub = useHub({
  prepare: async ({ server }) => {
    for (let n = 1; n <= 12; n++) await server.publish('chat:history', { n });
  },
});
const open = hub.open;

const offsets = (page) => page.publications.map((publication) => publication.offset);

for (const transport of ['websocket', 'sse', 'poll']) {
  test(`${transport}: the newest page, then earlier pages until the oldest, without subscribing`, async () => {
    const client = open({ transports: [transport] });
    await waitForState(client, isConnected);
    const newest = await client.history('chat:history', { latest: true, limit: 5 });
    assert.deepEqual(offsets(newest), [8, 9, 10, 11, 12]);
    assert.equal(newest.offset, 12);
    assert.deepEqual(newest.publications[0].data, { n: 8 });
    assert.equal(newest.publications[0].channel, 'chat:history');
    assert.equal(newest.publications[0].epoch, newest.epoch);
    const seen = [...offsets(newest)];
    let page = newest;
    while (page.publications.length > 0) {
      page = await client.history('chat:history', { before: page.publications[0].offset, limit: 5 });
      seen.unshift(...offsets(page));
    }
    assert.deepEqual(seen, Array.from({ length: 12 }, (_, i) => i + 1));
    const forward = await client.history('chat:history', { since: { epoch: newest.epoch, offset: 10 } });
    assert.deepEqual(offsets(forward), [11, 12]);
    assert.equal(forward.recovered, true);
    client.close();
  });
}

test('a bad query is refused with its code; history needs a connection', async () => {
  const client = open();
  await waitForState(client, isConnected);
  await assert.rejects(client.history('chat:history', { limit: 5000 }), (error) => error.code === 107);
  await assert.rejects(client.history('chat:history', { latest: true, before: 3 }), (error) => error.code === 107);
  const offline = open({ autoConnect: false });
  await assert.rejects(offline.history('chat:history'), NotConnectedError);
});

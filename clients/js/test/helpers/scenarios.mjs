// Behaviours every transport must show against a real server, registered once per transport by the
// websocket/sse/poll test files. Faults go through the link-fault proxy; publications are judged by the sequence
// numbers they carry.

import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '../../dist/switchboard.mjs';
import { startLinkFault } from '../../../../tools/linkfault/linkfault.mjs';
import { startServer, hasSessionEndpoints, mintToken } from './server.mjs';
import { waitFor, waitForState, isConnected, SequenceCollector } from './wait.mjs';

/** Forced disconnects per transport in the recovery loop (SB_FORCED_DISCONNECTS overrides). */
const FORCED_DISCONNECTS = Number(process.env.SB_FORCED_DISCONNECTS ?? 100);

const fastReconnect = { backoff: { initialMs: 5, maxMs: 50 }, openTimeoutMs: 5000, environment: null };

export function transportSuite(transport) {
  let server;
  let proxy;
  let skipReason = null;
  const clients = [];

  const newClient = (options = {}) => {
    const client = createClient({ url: proxy.url, transports: [transport], ...fastReconnect, ...options });
    clients.push(client);
    return client;
  };

  before(async () => {
    // A 1 s heartbeat (announced in the connect reply) lets the watchdog test notice a dead link quickly.
    server = await startServer({ settings: ['heartbeat.interval_ms=1000'] });
    proxy = await startLinkFault({ target: server.url });
    if (transport !== 'websocket' && !(await hasSessionEndpoints(server))) {
      skipReason = `server has no /connection/poll yet (404): ${transport} transport tests skipped until it lands`;
    }
  });

  after(async () => {
    for (const client of clients) client.close();
    await proxy?.close();
    await server?.stop();
  });

  const it = (name, body) =>
    test(`${transport}: ${name}`, async (t) => {
      if (skipReason) {
        t.skip(skipReason);
        return;
      }
      try {
        await body(t);
      } finally {
        // Even a failed test leaves no client behind to disturb the next one (e.g. the server's gauges).
        for (const client of clients.splice(0)) client.close();
      }
    });

  it('a publish resolves with its position and reaches every subscriber, the publisher included', async () => {
    const client = newClient();
    const received = [];
    const subscription = client.subscribe('chat:roundtrip', { onPublication: (p) => received.push(p) });
    await waitFor(() => subscription.state === 'subscribed', { message: 'subscribed' });
    const position = await client.publish('chat:roundtrip', { text: 'hi' });
    assert.equal(position.channel, 'chat:roundtrip');
    assert.equal(position.offset, 1);
    await server.publish('chat:roundtrip', { text: 'from the backend' });
    await waitFor(() => received.length === 2, { message: 'two publications' });
    assert.deepEqual(received.map((p) => [p.offset, p.data.text]), [[1, 'hi'], [2, 'from the backend']]);
    assert.equal(received[0].epoch, position.epoch);
    client.close();
  });

  it(`${FORCED_DISCONNECTS} forced disconnects during a steady stream lose nothing and duplicate nothing`, async (t) => {
    const channel = `loop:${transport}`;
    const client = newClient();
    const collector = new SequenceCollector();
    const subscription = client.subscribe(channel, collector);
    await waitFor(() => subscription.state === 'subscribed', { message: 'subscribed' });
    let published = 0;
    let publishing = true;
    const publisher = (async () => {
      while (publishing) await server.publish(channel, { seq: ++published });
    })();
    try {
      for (let cut = 0; cut < FORCED_DISCONNECTS; cut++) {
        const before = collector.seen.length;
        await waitFor(() => collector.seen.length > before && subscription.state === 'subscribed', {
          timeout: 15000,
          message: `progress before cut ${cut + 1}`,
        });
        proxy.cut();
      }
    } finally {
      publishing = false;
      await publisher;
    }
    await waitFor(() => collector.has(published), { timeout: 15000, message: `all ${published} publications` });
    const verdict = collector.verdict(published);
    t.diagnostic(`${transport}: ${FORCED_DISCONNECTS} cuts, ${published} publications: ${JSON.stringify(verdict)}`);
    assert.deepEqual({ ...verdict, received: undefined }, { lost: 0, duplicated: 0, outOfOrder: 0, received: undefined });
    assert.equal(collector.resets.length, 0);
    t.diagnostic(`${transport}: ${client.stats.connects} sessions`);
    // The cuts really ended sessions (a cut that lands on a connection attempt fails that attempt instead, so not
    // every cut makes a session). A cut poll request is retried on the same session with the same ack (the server
    // resends what was not confirmed), so long-polling survives cuts without a new session.
    if (transport !== 'poll') assert.ok(client.stats.connects > FORCED_DISCONNECTS / 2, `${client.stats.connects} sessions`);
    client.close();
  });

  it('publishes made while the link is down are delivered once, in order, when it comes back', async () => {
    const client = newClient();
    const collector = new SequenceCollector();
    const subscription = client.subscribe('chat:offline', collector);
    await waitFor(() => subscription.state === 'subscribed', { message: 'subscribed' });
    proxy.setOffline(true);
    try {
      await waitForState(client, (state) => state.status === 'reconnecting');
      const sent = [1, 2, 3, 4, 5].map((seq) => client.publish('chat:offline', { seq }));
      proxy.setOffline(false);
      const positions = await Promise.all(sent);
      assert.deepEqual(positions.map((p) => p.offset), [1, 2, 3, 4, 5]);
    } finally {
      proxy.setOffline(false);
    }
    await waitFor(() => collector.has(5), { message: 'five publications' });
    assert.deepEqual(collector.verdict(5), { lost: 0, duplicated: 0, outOfOrder: 0, received: 5 });
    client.close();
  });

  it('a dead link that never closes is detected by the heartbeat watchdog', async () => {
    const client = newClient({ heartbeatGraceMs: 300, pollTimeoutMs: 500 });
    await waitForState(client, isConnected);
    proxy.setStalled(true);
    try {
      const state = await waitForState(client, (s) => s.status === 'reconnecting', { timeout: 40000 });
      assert.match(state.reason, /heartbeat|poll|no connect reply|failed/);
    } finally {
      proxy.setStalled(false);
    }
    await waitForState(client, isConnected, { timeout: 15000 });
    client.close();
  });

  it('close() ends the server session: the server counts no connection from it', async () => {
    const sessions = async () =>
      /switchboard_connections\{transport="(websocket|sse|poll)"\} [1-9]/.test(await server.metrics());
    // Sessions of earlier tests (all closed) may take a moment to be noticed by the server.
    await waitFor(async () => !(await sessions()), { message: 'no session left from earlier tests' });
    const client = newClient();
    await waitForState(client, isConnected);
    assert.equal(await sessions(), true);
    client.close();
    await waitFor(async () => !(await sessions()), { message: 'server connection gauges back to 0' });
  });
}

/** Scenarios that need their own server configuration (restart, short-lived tokens). */
export function lifecycleSuite(transport) {
  const it = (name, body) => test(`${transport}: ${name}`, body);

  it('a server restart (in-memory history lost) surfaces an explicit reset, then live publications flow', async (t) => {
    let server = await startServer();
    if (transport !== 'websocket' && !(await hasSessionEndpoints(server))) {
      await server.stop();
      t.skip(`server has no /connection/poll yet (404): ${transport} transport test skipped`);
      return;
    }
    const client = createClient({ url: server.url, transports: [transport], ...fastReconnect });
    try {
      const collector = new SequenceCollector();
      const subscription = client.subscribe('news:restart', collector);
      await waitFor(() => subscription.state === 'subscribed', { message: 'subscribed' });
      for (let seq = 1; seq <= 3; seq++) await server.publish('news:restart', { seq });
      await waitFor(() => collector.has(3), { message: 'three publications' });
      const port = server.port;
      await server.stop();
      server = await startServer({ port });
      await waitFor(() => collector.resets.length === 1, { timeout: 15000, message: 'reset after restart' });
      assert.equal(collector.resets[0].reason, 'epoch changed: history was lost');
      await waitFor(() => subscription.state === 'subscribed', { message: 'subscribed again' });
      await server.publish('news:restart', { seq: 4 });
      await waitFor(() => collector.has(4), { message: 'live publication after reset' });
      assert.deepEqual(collector.seen, [1, 2, 3, 4]);
    } finally {
      client.close();
      await server.stop();
    }
  });

  it('a token the server refuses (4501) is replaced through getToken and the client connects', async (t) => {
    const server = await startServer();
    if (transport !== 'websocket' && !(await hasSessionEndpoints(server))) {
      await server.stop();
      t.skip(`server has no /connection/poll yet (404): ${transport} transport test skipped`);
      return;
    }
    let calls = 0;
    const client = createClient({
      url: server.url,
      transports: [transport],
      ...fastReconnect,
      getToken: () => (++calls === 1 ? 'not-a-jwt' : mintToken({ sub: 'alice' })),
    });
    try {
      const state = await waitForState(client, isConnected);
      assert.equal(state.user, 'alice');
      assert.equal(calls, 2);
    } finally {
      client.close();
      await server.stop();
    }
  });

  it('an expiring token is refreshed in band when the server asks, without reconnecting', async (t) => {
    const server = await startServer({ settings: ['heartbeat.interval_ms=400', 'auth.refresh_grace_ms=3000'] });
    if (transport !== 'websocket' && !(await hasSessionEndpoints(server))) {
      await server.stop();
      t.skip(`server has no /connection/poll yet (404): ${transport} transport test skipped`);
      return;
    }
    let calls = 0;
    const client = createClient({
      url: server.url,
      transports: [transport],
      ...fastReconnect,
      proactiveRefresh: false,
      // The first token expired 4 s ago: still valid for 1 s of the server's 5 s leeway, then the refresh push.
      getToken: () => mintToken({ sub: 'alice', expiresIn: ++calls === 1 ? -4 : 3600 }),
    });
    try {
      const connected = await waitForState(client, isConnected);
      await waitFor(() => client.stats.refreshes === 1, { timeout: 10000, message: 'an accepted refresh' });
      assert.equal(calls, 2);
      assert.equal(client.stats.connects, 1);
      assert.equal(client.state.status, 'connected');
      assert.equal(client.state.clientId, connected.clientId);
    } finally {
      client.close();
      await server.stop();
    }
  });
}

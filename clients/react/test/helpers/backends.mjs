// The two backends the component scenarios run against: the testing kit's fake server, and a real Switchboard
// server (SWITCHBOARD_BIN) behind the link-fault proxy. Each offers the same faults, so a scenario that passes on
// the fake and fails on the real one shows where the fake drifted.

import { FakeAnimationFrames, FakeTimers, TestNetwork, createTestClient, flushMicrotasks } from '@switchboard/react/testing';
import { createClient } from '@switchboard/client';
import { startServer } from '../../../js/test/helpers/server.mjs';
import { startLinkFault } from '../../../../tools/linkfault/linkfault.mjs';
import { act } from './dom.mjs';

/** Publishes to the `readonly` namespace are refused (103) on both backends. */
export const READONLY_NAMESPACE = 'readonly';

export function fakeBackend() {
  let network;
  let timers;
  const clients = [];
  return {
    name: 'fake server',
    frames: null,
    async setup() {
      network = new TestNetwork();
      network.failPublishes((channel) => channel.startsWith(`${READONLY_NAMESPACE}:`), {
        error: { code: 103, name: 'publish_denied', reason: 'clients may not publish to this namespace' },
      });
      timers = new FakeTimers();
      this.frames = new FakeAnimationFrames();
    },
    async teardown() {
      for (const client of clients.splice(0)) client.close();
    },
    client() {
      // Backoff windows of 10–80 ms (half of each), so a few turns of the fake clock cover any reconnect.
      const client = createTestClient(network, { timers, random: () => 0.5, backoff: { initialMs: 20, maxMs: 160 }, autoConnect: false });
      clients.push(client);
      return client;
    },
    async publish(channel, data) {
      network.server.publish(channel, data);
    },
    async history(channel) {
      const client = createTestClient(network, { timers });
      clients.push(client);
      const seen = [];
      const subscription = client.subscribe(channel, { since: { epoch: network.server.epoch, offset: 0 }, onPublication: (p) => seen.push(p.data) });
      await this.until(() => subscription.state === 'subscribed', 'history read');
      client.close();
      return seen;
    },
    cut: () => network.cut(),
    async goOffline() {
      network.server.refusing.add('websocket');
      network.cut();
    },
    async goOnline() {
      network.server.refusing.delete('websocket');
    },
    slowDown: () => network.hold(),
    holdsUntilRestored: true,
    heldMessages: () => network.heldMessages,
    restoreSpeed: () => network.release(),
    /** Lets the fake network, the client's timers and one animation frame run until `check` holds. */
    async until(check, message) {
      for (let round = 0; round < 200; round++) {
        await act(async () => {
          await timers.advance(100);
          await flushMicrotasks();
          this.frames.runFrame();
        });
        if (await check()) return;
      }
      throw new Error(`fake backend: never saw ${message}`);
    },
  };
}

export function realBackend() {
  let server;
  let proxy;
  const clients = [];
  return {
    name: 'real server',
    frames: null,
    async setup() {
      server = await startServer({ settings: [`namespaces.${READONLY_NAMESPACE}.allow_client_publish=false`] });
      proxy = await startLinkFault({ target: server.url });
      this.frames = new FakeAnimationFrames();
    },
    async teardown() {
      for (const client of clients.splice(0)) client.close();
      await proxy?.close();
      await server?.stop();
    },
    client() {
      const client = createClient({
        url: proxy.url,
        transports: ['websocket'],
        environment: null,
        autoConnect: false,
        backoff: { initialMs: 5, maxMs: 50 },
        // Node's WebSocket sometimes reports nothing when the proxy resets it mid-handshake (offline): the open
        // timeout is what ends such an attempt, so keep it short here.
        openTimeoutMs: 1000,
      });
      clients.push(client);
      return client;
    },
    publish: (channel, data) => server.publish(channel, data),
    async history(channel) {
      const body = await server.history(channel);
      return (body.publications ?? []).map((publication) => publication.data);
    },
    cut: () => proxy.cut(),
    async goOffline() {
      proxy.setOffline(true);
    },
    async goOnline() {
      proxy.setOffline(false);
    },
    slowDown: () => proxy.setLatency(150),
    restoreSpeed: () => proxy.setLatency(0),
    /** Polls `check` (running one animation frame per turn) until it holds; a deadline, not a sleep, bounds it. */
    async until(check, message, timeout = 10000) {
      const deadline = Date.now() + timeout;
      for (;;) {
        await act(async () => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          this.frames.runFrame();
        });
        if (await check()) return;
        if (Date.now() > deadline) throw new Error(`real backend: timed out after ${timeout} ms waiting for ${message}`);
      }
    },
  };
}

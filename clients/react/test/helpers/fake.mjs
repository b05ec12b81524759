// A fake hub for specification tests: server, network faults, clock and frames, and a way to let them all run.

import { FakeAnimationFrames, FakeServer, FakeTimers, TestNetwork, createTestClient, flushMicrotasks } from '@switchboard/react/testing';
import { act } from './dom.mjs';

export function fakeHub(serverOptions = {}) {
  const network = new TestNetwork(new FakeServer(serverOptions));
  const timers = new FakeTimers();
  const frames = new FakeAnimationFrames();
  const clients = [];
  return {
    network,
    server: network.server,
    timers,
    frames,
    client(options = {}) {
      const client = createTestClient(network, { timers, random: () => 0.5, backoff: { initialMs: 20, maxMs: 160 }, ...options });
      clients.push(client);
      return client;
    },
    /** Lets the fake network and promise callbacks run (no frame: nothing renders). */
    async settle() {
      await act(async () => {
        await flushMicrotasks();
        await flushMicrotasks();
      });
    },
    /** Settles, then runs one animation frame. */
    async frame() {
      await this.settle();
      await act(async () => frames.runFrame());
    },
    commands(name) {
      return network.server.received.filter((entry) => entry.command.cmd === name).map((entry) => entry.command);
    },
    closeAll() {
      for (const client of clients.splice(0)) client.close();
    },
  };
}

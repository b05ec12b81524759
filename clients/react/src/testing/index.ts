// The React testing kit: the browser client's fake server, clock and locks, plus manual animation frames and a
// fault-injecting network for component tests without a real hub.
export { FakeServer, FakeTimers, FakeLocks, flushMicrotasks, type FakeServerOptions } from '@switchboard/client/testing';
export { FakeAnimationFrames } from './frames.js';
export { TestNetwork, createTestClient, type PublishFailure } from './network.js';

export { FakeServer, FakeConnection, type FakeServerOptions } from './fakeServer.js';
export { FakeTimers, flushMicrotasks } from './fakeTimers.js';
export { FakeLocks } from './fakeLocks.js';

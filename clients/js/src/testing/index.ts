export { FakeServer, type FakeServerOptions } from './fakeServer.js';
export { FakeConnection } from './fakeConnection.js';
export { FakeTimers, flushMicrotasks } from './fakeTimers.js';
export { FakeLocks } from './fakeLocks.js';

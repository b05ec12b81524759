// Entry of `dist/switchboard-worker.js`: the SharedWorker script an app serves from its own origin and passes as
// `createClient({ sharedWorker: '/switchboard-worker.js' })`. Apps that need worker-side options (a `getToken` that
// fetches from the worker, custom transports) write their own entry calling `serveSharedWorker(self, overrides)`.
import type { WorkerPort } from './sharedWorker.js';
import { serveSharedWorker } from './sharedWorkerHub.js';

serveSharedWorker(globalThis as unknown as { onconnect: ((event: { ports: readonly WorkerPort[] }) => void) | null });

// One connection for all tabs, held by a SharedWorker: the tab side. A bundled library cannot ship a same-origin
// worker, so the app serves `dist/switchboard-worker.js` (or its own script calling `serveSharedWorker`) and passes
// its URL as `createClient({ sharedWorker: '/switchboard-worker.js' })`. The worker (sharedWorkerHub.ts) runs one
// `SwitchboardClient` in a `RelayHub` (relay.ts, the same hub and message set as the leader tab of crossTab.ts) and
// serves any number of ports; each tab runs a `WorkerTabClient`, the same relayed client as a follower tab, over its
// `MessagePort`.
//
// Tabs that die without `close()` are noticed through Web Locks: each tab holds a lock named after itself, and the
// worker queues for it; the worker gets it once the tab is gone and releases that tab's subscriptions. If the worker
// does not start (script missing, error, no answer in time), the tab falls back to a connection of its own. The same
// works the other way round: the worker holds a lock while it lives and every tab queues for it, so a worker that
// stops after it started (a crash, the browser terminating it) hands the lock to the tabs, which fall back to
// connections of their own and resubscribe from their positions — nothing lost, nothing twice.

import { SwitchboardClient, type ClientOptions, type ClientStats } from './client.js';
import type { TabLocks } from './crossTab.js';
import type { Logger } from './log.js';
import { RelayHub, type TabMessage } from './relay.js';
import { RelayedClient } from './relayedClient.js';
import { realTimers, type TimerHandle } from './timers.js';

/** The subset of `MessagePort` used between a tab and the worker. */
export interface WorkerPort {
  postMessage(message: unknown): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  start?(): void;
  close(): void;
}

/** A started worker as the tab sees it (a `SharedWorker`, or a test double). */
export interface WorkerHandle {
  port: WorkerPort;
  /** Called by the handle when the worker failed to load or start. */
  onerror?: ((event: unknown) => void) | null;
}

export interface SharedWorkerOptions {
  /**
   * URL of the worker script the app serves from its own origin (`dist/switchboard-worker.js`). The connection then
   * lives in a SharedWorker shared by every tab of the origin; falls back to cross-tab sharing when `SharedWorker`
   * is missing, and to a connection of this tab's own when the worker fails to start.
   */
  sharedWorker?: string | URL;
  /** How long to wait for the worker's first answer before falling back (default 5000 ms). */
  sharedWorkerTimeoutMs?: number;
  /** Opens the worker; for tests (default `new SharedWorker(url, { name })`). */
  openWorker?: (url: string, name: string) => WorkerHandle;
}

/** Worker-only messages on top of the relay's. */
export type HelloMessage = { type: 'hello'; tab: string; options?: Partial<ClientOptions>; getToken?: boolean };
export type WorkerMessage =
  | TabMessage
  | HelloMessage
  | { type: 'alive'; tab: string }
  /** The worker holds the lock `name` while it lives. */
  | { type: 'workerLock'; name: string }
  | { type: 'token'; tab: string; request: number }
  | { type: 'tokenAnswer'; tab: string; request: number; token?: string | null; error?: string };

/** Options that can cross to the worker (functions and host objects cannot). */
const CLONEABLE: Array<keyof ClientOptions> = [
  'url', 'format', 'batchFrames', 'maxQueuedAcks', 'info', 'token', 'backoff', 'stableAfterMs', 'openTimeoutMs',
  'heartbeatGraceMs', 'fallbackAfterFailures', 'upgradeProbeMs', 'maxQueuedPublishes', 'refreshBeforeExpiryMs',
  'proactiveRefresh', 'pollTimeoutMs',
];

export function workerOptions(options: ClientOptions, log: Logger = () => {}): Partial<ClientOptions> {
  const out: Record<string, unknown> = {};
  for (const key of CLONEABLE) if (options[key] !== undefined) out[key] = options[key];
  if (typeof options.debug === 'boolean') out.debug = options.debug;
  if (options.transports) {
    const names = options.transports.filter((item) => typeof item === 'string');
    if (names.length < options.transports.length) log('custom transport factories cannot cross to the shared worker; using the named ones', names);
    if (names.length > 0) out.transports = names;
  }
  return out;
}

export function sharedWorkerName(url: string): string {
  return `switchboard:${url}`;
}

/** Opens the worker, or throws (no `SharedWorker`, a cross-origin URL...): the caller falls back. */
export function openSharedWorker(options: ClientOptions & SharedWorkerOptions): WorkerHandle {
  const url = String(options.sharedWorker);
  const name = sharedWorkerName(options.url);
  if (options.openWorker) return options.openWorker(url, name);
  const Ctor = (globalThis as { SharedWorker?: new (url: string, options: { name: string }) => WorkerHandle }).SharedWorker;
  if (!Ctor) throw new Error('SharedWorker is not available here');
  return new Ctor(url, { name });
}

export function tabLockName(tab: string): string {
  return `switchboard-tab:${tab}`;
}

/** The lock a worker serving `url` holds while it lives. */
export function workerLockName(url: string): string {
  return `switchboard-worker:${url}`;
}

export function defaultLocks(): TabLocks | null {
  return (globalThis as { navigator?: { locks?: TabLocks } }).navigator?.locks ?? null;
}

/** A tab's client whose connection lives in the SharedWorker. */
export class WorkerTabClient extends RelayedClient {
  private port: WorkerPort | null;
  private started = false;
  private startTimer: TimerHandle | null = null;
  private releaseLock: (() => void) | null = null;
  /** Set when the worker did not start or stopped: this tab runs its own connection. */
  private local: RelayHub | null = null;
  private readonly timers;
  private readonly locks: TabLocks | null;
  private watchingWorker = false;

  constructor(options: ClientOptions & SharedWorkerOptions & { locks?: TabLocks }, worker: WorkerHandle) {
    super(options, 'worker');
    this.timers = options.timers ?? realTimers;
    this.port = worker.port;
    worker.onerror = (event) => this.fallBack(`the worker reported an error: ${describe(event)}`);
    this.port.onmessage = (event) => this.onWorkerMessage(event.data as WorkerMessage);
    this.port.start?.();
    const hello: HelloMessage = { type: 'hello', tab: this.tab, options: workerOptions(options, this.log), getToken: Boolean(options.getToken) };
    this.port.postMessage(hello);
    const timeout = options.sharedWorkerTimeoutMs ?? 5000;
    this.startTimer = this.timers.setTimeout(() => this.fallBack(`no answer from the worker within ${timeout} ms`), timeout);
    // Held while this tab lives: the worker queues for it to learn when the tab is gone.
    const locks = options.locks ?? defaultLocks();
    this.locks = locks;
    if (locks) {
      void locks
        .request(tabLockName(this.tab), () => {
          if (this.closed) return Promise.resolve();
          this.port?.postMessage({ type: 'alive', tab: this.tab });
          return new Promise<void>((resolve) => (this.releaseLock = resolve));
        })
        .catch((error) => this.log('tab lock failed', String(error)));
    }
    this.log('connection shared through a SharedWorker', String(options.sharedWorker));
  }

  /** Whether the connection is in the shared worker (false before its first answer and after a fallback). */
  get inWorker(): boolean {
    return this.started && !this.local;
  }

  protected innerStats(): ClientStats | null {
    return this.local?.inner.stats ?? null;
  }

  /** The shared connection is the worker's: only a fallback connection of this tab's own is driven from here. */
  connect(): void {
    this.local?.inner.connect();
  }

  disconnect(): void {
    this.local?.inner.disconnect();
  }

  protected post(message: TabMessage): void {
    if (this.local) this.local.handle(message);
    else this.port?.postMessage(message);
  }

  protected detach(): void {
    this.clearStartTimer();
    if (this.local) {
      this.local.close();
      this.local = null;
    }
    this.leavePort();
    this.releaseLock?.();
    this.releaseLock = null;
  }

  private leavePort(): void {
    const port = this.port;
    if (!port) return;
    this.port = null;
    port.onmessage = null;
    port.postMessage({ type: 'bye', tab: this.tab });
    port.close();
  }

  private clearStartTimer(): void {
    if (this.startTimer !== null) this.timers.clearTimeout(this.startTimer);
    this.startTimer = null;
  }

  private onWorkerMessage(message: WorkerMessage): void {
    if (this.closed || this.local) return;
    if (!this.started) {
      this.started = true;
      this.clearStartTimer();
      this.log('the shared worker answered');
    }
    if (message.type === 'token') {
      if (message.tab === this.tab) this.answerToken(message.request);
      return;
    }
    if (message.type === 'workerLock') {
      this.watchWorker(message.name);
      return;
    }
    this.receive(message as TabMessage);
  }

  private answerToken(request: number): void {
    const getToken = this.options.getToken;
    Promise.resolve()
      .then(() => (getToken ? getToken() : (this.options.token ?? null)))
      .then(
        (token) => this.port?.postMessage({ type: 'tokenAnswer', tab: this.tab, request, token }),
        (error) => this.port?.postMessage({ type: 'tokenAnswer', tab: this.tab, request, error: String(error) }),
      );
  }

  /** Queues for the worker's lock: granted only once the worker is gone. */
  private watchWorker(name: string): void {
    if (!this.locks || this.watchingWorker) return;
    this.watchingWorker = true;
    void this.locks
      .request(name, () => {
        this.workerStopped();
        return Promise.resolve(); // at once: the next tab, and a new worker, are waiting for it
      })
      .catch((error) => this.log('worker watch failed', String(error)));
  }

  private workerStopped(): void {
    if (this.closed || this.local) return;
    this.log('the shared worker stopped; this tab falls back to a connection of its own');
    this.runOwnConnection();
  }

  private fallBack(reason: string): void {
    if (this.started || this.closed || this.local) return;
    this.clearStartTimer();
    this.log(`shared worker did not start (${reason}); this tab falls back to a connection of its own`);
    this.runOwnConnection();
  }

  /** From now on this tab holds its own connection; what it asked of the worker is asked again (resync). */
  private runOwnConnection(): void {
    this.leavePort();
    const inner = new SwitchboardClient({ ...this.options, autoConnect: true });
    inner.on('error', (error) => this.emit('error', error));
    this.local = new RelayHub(inner, (message) => this.receive(message));
    this.resync();
    this.receive({ type: 'state', state: inner.state });
  }
}

function describe(event: unknown): string {
  const message = (event as { message?: unknown } | null)?.message;
  return typeof message === 'string' && message ? message : 'failed to load or start';
}

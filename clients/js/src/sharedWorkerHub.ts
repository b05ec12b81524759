// One connection for all tabs, held by a SharedWorker: the worker side. One real client in a `RelayHub` for every
// connected port (tab), tabs that die without `close()` noticed through their Web Lock, and a `getToken` the worker
// lacks run by a tab. The tab side and the worker-only messages are in sharedWorker.ts.

import { SwitchboardClient, type ClientOptions } from './client.js';
import type { TabLocks } from './crossTab.js';
import { makeLogger, type Logger } from './log.js';
import { RelayHub, type Recipients, type TabMessage } from './relay.js';
import { defaultLocks, tabLockName, workerLockName, type HelloMessage, type WorkerMessage, type WorkerPort } from './sharedWorker.js';

interface PortEntry {
  port: WorkerPort;
  getToken: boolean;
}

interface TokenWait {
  resolve(token: string | null): void;
  reject(error: Error): void;
}

/**
 * The worker side: one real client for every connected port (tab). Created on the first tab's `hello` from the
 * options it sent (plus `overrides`, e.g. a worker-side `getToken`), closed when the last tab leaves.
 */
export class SharedWorkerHub {
  private readonly ports = new Map<string, PortEntry>();
  private hub: RelayHub | null = null;
  private log: Logger;
  private nextToken = 1;
  private readonly tokenWaits = new Map<number, TokenWait>();
  /** The lock this worker holds while it lives, once granted (tabs queue for it to learn that the worker stopped). */
  private heldLock: string | null = null;
  private lockRequested = false;

  constructor(
    private readonly overrides: Partial<ClientOptions> = {},
    private readonly locks: TabLocks | null = defaultLocks(),
  ) {
    this.log = makeLogger(overrides.debug);
  }

  /** Tabs connected now. */
  get tabs(): number {
    return this.ports.size;
  }

  /** The real client, while any tab is connected. */
  get client(): SwitchboardClient | null {
    return this.hub?.inner ?? null;
  }

  accept(port: WorkerPort): void {
    let tab: string | null = null;
    port.onmessage = (event) => {
      const message = event.data as WorkerMessage;
      if (message.type === 'hello') {
        tab = message.tab;
        this.ports.set(tab, { port, getToken: Boolean((message as HelloMessage).getToken) });
        const hub = this.hub ?? this.start(message as HelloMessage);
        this.log('tab joined the shared worker', { tab, tabs: this.ports.size });
        hub.handle({ type: 'hello', tab });
        if (this.heldLock) port.postMessage({ type: 'workerLock', name: this.heldLock });
        else this.holdLock((message as HelloMessage).options?.url);
      } else if (message.type === 'alive') {
        this.watch(message.tab);
      } else if (message.type === 'tokenAnswer') {
        const wait = this.tokenWaits.get(message.request);
        this.tokenWaits.delete(message.request);
        if (message.error !== undefined) wait?.reject(new Error(message.error));
        else wait?.resolve(message.token ?? null);
      } else if (message.type === 'bye') {
        this.leave(message.tab);
      } else if (tab && this.ports.has(tab)) {
        this.hub?.handle(message as TabMessage);
      }
    };
    port.start?.();
  }

  private start(hello: HelloMessage): RelayHub {
    const options = { ...(hello.options ?? {}), ...this.overrides } as ClientOptions;
    if (this.overrides.debug === undefined) this.log = makeLogger(options.debug);
    if (!this.overrides.getToken && hello.getToken) options.getToken = () => this.askToken();
    this.log('shared worker opens the connection', options.url);
    const inner = new SwitchboardClient({ ...options, autoConnect: true });
    inner.on('error', (error) => this.log('client error', String(error)));
    this.hub = new RelayHub(inner, (message, to) => this.route(message, to));
    return this.hub;
  }

  /**
   * Holds the worker's lock for as long as the worker lives (the callback never settles): the browser releases it
   * when the worker stops, and the tabs queued for it learn so. Announced to the tabs once held.
   */
  private holdLock(url: string | undefined): void {
    if (!this.locks || this.lockRequested || !url) return;
    this.lockRequested = true;
    const name = workerLockName(url);
    void this.locks
      .request(name, () => {
        this.heldLock = name;
        this.route({ type: 'workerLock', name }, null);
        return new Promise<void>(() => {});
      })
      .catch((error) => this.log('worker lock failed', String(error)));
  }

  /** Web Locks: the tab holds its lock while it lives, so the worker gets it once the tab is gone. */
  private watch(tab: string): void {
    if (!this.locks) return;
    void this.locks
      .request(tabLockName(tab), () => {
        if (this.ports.has(tab)) this.log('tab went away without closing', tab);
        this.leave(tab);
        return Promise.resolve();
      })
      .catch((error) => this.log('tab watch failed', String(error)));
  }

  private leave(tab: string): void {
    const entry = this.ports.get(tab);
    if (!entry) return;
    this.ports.delete(tab);
    entry.port.onmessage = null;
    entry.port.close();
    this.hub?.dropTab(tab);
    this.log('tab left the shared worker', { tab, tabs: this.ports.size });
    if (this.ports.size === 0 && this.hub) {
      this.log('last tab left: the shared worker closes the connection');
      this.hub.close();
      this.hub = null;
    }
  }

  private route(message: TabMessage | WorkerMessage, to: Recipients): void {
    const send = (tab: string) => {
      try {
        this.ports.get(tab)?.port.postMessage(message);
      } catch (error) {
        this.log('could not post to a tab', String(error));
      }
    };
    if (to === null) for (const tab of [...this.ports.keys()]) send(tab);
    else if (typeof to === 'string') send(to);
    else for (const tab of [...to]) send(tab);
  }

  /** The worker has no `getToken` of its own: the newest tab that has one runs it (the next one after 10 s). */
  private async askToken(): Promise<string | null> {
    const candidates = [...this.ports].filter(([, entry]) => entry.getToken).map(([tab]) => tab).reverse();
    let lastError: Error = new Error('no tab could provide a token');
    for (const tab of candidates) {
      if (!this.ports.has(tab)) continue;
      const request = this.nextToken++;
      try {
        return await new Promise<string | null>((resolve, reject) => {
          const timer = setTimeout(() => {
            this.tokenWaits.delete(request);
            reject(new Error('the tab did not answer the token request'));
          }, 10_000);
          this.tokenWaits.set(request, {
            resolve: (token) => (clearTimeout(timer), resolve(token)),
            reject: (error) => (clearTimeout(timer), reject(error)),
          });
          this.route({ type: 'token', tab, request }, tab);
        });
      } catch (error) {
        lastError = error as Error;
      }
    }
    throw lastError;
  }
}

/** The worker script's entry: `serveSharedWorker(self)`; pass `overrides` for options only the worker can hold. */
export function serveSharedWorker(
  scope: { onconnect: ((event: { ports: readonly WorkerPort[] }) => void) | null },
  overrides: Partial<ClientOptions> = {},
): SharedWorkerHub {
  const hub = new SharedWorkerHub(overrides);
  scope.onconnect = (event) => {
    const port = event.ports[0];
    if (port) hub.accept(port);
  };
  return hub;
}

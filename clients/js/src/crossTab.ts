// One connection for all tabs of an origin. Tabs elect a leader with a Web Lock (the lock is released when the
// leader tab closes or crashes, and the next waiting tab takes it: that is the hand-over). The leader runs the real
// client in a `RelayHub`; every tab, the leader's own included, talks to it through a BroadcastChannel with the
// relay's message set (relay.ts, shared with the SharedWorker mode).
//
// Each tab keeps its own per-channel position and duplicate guard, so a hand-over that replays a publication is
// harmless, and a jump it cannot explain is reported as a reset instead of passing silently. Publishes waiting for
// a result are re-sent to a new leader with the same idempotency key, so the server stores them once.

import { SwitchboardClient, type ClientOptions, type ClientStats } from './client.js';
import { RelayHub, type TabMessage } from './relay.js';
import { RelayedClient } from './relayedClient.js';

/** The subset of `navigator.locks` used for the election. */
export interface TabLocks {
  request(name: string, callback: () => Promise<void>): Promise<unknown>;
}

/** The subset of `BroadcastChannel` used between tabs. */
export interface TabChannel {
  postMessage(message: unknown): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  close(): void;
}

export interface CrossTabOptions {
  locks?: TabLocks;
  openChannel?: (name: string) => TabChannel;
}

export function crossTabAvailable(options: CrossTabOptions): boolean {
  const scope = globalThis as { navigator?: { locks?: TabLocks }; BroadcastChannel?: unknown };
  return Boolean((options.locks ?? scope.navigator?.locks) && (options.openChannel ?? scope.BroadcastChannel));
}

export class TabClient extends RelayedClient {
  private readonly bus: TabChannel;
  // Leader only.
  private hub: RelayHub | null = null;
  private releaseLock: (() => void) | null = null;

  constructor(options: ClientOptions & CrossTabOptions) {
    super(options, 'tab');
    const scope = globalThis as { navigator?: { locks?: TabLocks }; BroadcastChannel?: new (name: string) => TabChannel };
    const name = `switchboard:${options.url}`;
    this.bus = options.openChannel ? options.openChannel(name) : new (scope.BroadcastChannel as new (name: string) => TabChannel)(name);
    this.bus.onmessage = (event) => this.onBusMessage(event.data as TabMessage);
    // A tab that opens after the leader connected learns the connection state from the leader's answer.
    this.bus.postMessage({ type: 'hello', tab: this.tab });
    const locks = options.locks ?? (scope.navigator?.locks as TabLocks);
    void locks
      .request(name, () => {
        if (this.closed) return Promise.resolve();
        this.becomeLeader();
        return new Promise<void>((resolve) => (this.releaseLock = resolve));
      })
      .catch((error) => this.log('tab election failed', String(error)));
  }

  get isLeader(): boolean {
    return this.hub !== null;
  }

  protected innerStats(): ClientStats | null {
    return this.hub?.inner.stats ?? null;
  }

  connect(): void {
    this.hub?.inner.connect();
  }

  disconnect(): void {
    this.hub?.inner.disconnect();
  }

  protected detach(): void {
    if (this.hub) {
      // Hand over: publishes still in flight for other tabs are not answered; those tabs re-send them to the next
      // leader with the same idempotency key.
      this.hub.close();
      this.hub = null;
    } else {
      this.bus.postMessage({ type: 'bye', tab: this.tab });
    }
    this.releaseLock?.();
    this.releaseLock = null;
    this.bus.onmessage = null;
    this.bus.close();
  }

  /** Messages to the leader; the leader's own tab handles its messages directly (BroadcastChannel skips the sender). */
  protected post(message: TabMessage): void {
    if (this.hub) this.hub.handle(message);
    else this.bus.postMessage(message);
  }

  private onBusMessage(message: TabMessage): void {
    if (this.closed) return;
    if (this.hub) this.hub.handle(message);
    else if (message.type === 'leader') this.resync();
    else this.receive(message);
  }

  private becomeLeader(): void {
    this.log('this tab leads the shared connection');
    const inner = new SwitchboardClient({ ...this.options, autoConnect: true });
    inner.on('error', (error) => this.emit('error', error));
    // Messages from the leader go to every tab, this one included.
    this.hub = new RelayHub(inner, (message) => {
      this.bus.postMessage(message);
      this.receive(message);
    });
    this.resync();
    this.bus.postMessage({ type: 'leader', tab: this.tab });
    this.receive({ type: 'state', state: inner.state });
  }
}

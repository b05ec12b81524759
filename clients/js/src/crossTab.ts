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
  /** Null until the tab joins (at construction, or at `connect()` with `autoConnect: false`). */
  private bus: TabChannel | null = null;
  // Leader only.
  private hub: RelayHub | null = null;
  private releaseLock: (() => void) | null = null;

  constructor(private readonly crossTabOptions: ClientOptions & CrossTabOptions) {
    super(crossTabOptions, 'tab');
    // With `autoConnect: false` the tab takes no part until `connect()`: no BroadcastChannel, no Web Lock. A tab that
    // only might connect must not win the election and then hold (or withhold) the one connection for the others.
    if (crossTabOptions.autoConnect ?? true) this.join();
  }

  private join(): void {
    const options = this.crossTabOptions;
    const scope = globalThis as { navigator?: { locks?: TabLocks }; BroadcastChannel?: new (name: string) => TabChannel };
    const name = `switchboard:${options.url}`;
    const bus = options.openChannel ? options.openChannel(name) : new (scope.BroadcastChannel as new (name: string) => TabChannel)(name);
    this.bus = bus;
    bus.onmessage = (event) => this.onBusMessage(event.data as TabMessage);
    // A tab that opens after the leader connected learns the connection state from the leader's answer.
    bus.postMessage({ type: 'hello', tab: this.tab });
    // What the app asked before joining (subscriptions, publishes) goes to the leader, if there is one yet; a leader
    // elected later asks every tab again (`leader` message).
    this.resync();
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
    if (this.closed) return;
    if (!this.bus) this.join();
    else this.hub?.inner.connect();
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
      this.bus?.postMessage({ type: 'bye', tab: this.tab });
    }
    this.releaseLock?.();
    this.releaseLock = null;
    if (this.bus) {
      this.bus.onmessage = null;
      this.bus.close();
    }
  }

  /** Messages to the leader; the leader's own tab handles its messages directly (BroadcastChannel skips the sender). */
  protected post(message: TabMessage): void {
    if (this.hub) this.hub.handle(message);
    else this.bus?.postMessage(message); // before joining: re-sent by the resync of `join()`
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
      this.bus?.postMessage(message);
      this.receive(message);
    });
    this.resync();
    this.bus?.postMessage({ type: 'leader', tab: this.tab });
    this.receive({ type: 'state', state: inner.state });
  }
}

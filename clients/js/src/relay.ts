// The relay's message set and its hub, shared by both ways of holding one connection for many tabs: a leader tab
// (crossTab.ts, BroadcastChannel + Web Lock) or a SharedWorker (sharedWorker.ts). The hub, `RelayHub`, runs the real
// client and acts for tabs; each tab's client is a `RelayedClient` (relayedClient.ts) that talks to it with a tiny
// message set (subscribe / unsubscribe / publish / call from tabs; state / publication / reset / results from the
// hub). Only how messages travel differs between the two modes.

import type { ConnectionState, PublishOptions, PublishResult, Subscription, SwitchboardClient } from './client.js';
import type { StreamPosition } from './protocol.js';
import type { PresenceState, Publication, Receipt, ResetEvent, Signal, SubscriptionState } from './subscriptions.js';
import { combineServerOptions, listenerServerOptions, sameServerOptions, type ListenerServerOptions, type ServerOptions } from './subscriptionOptions.js';

export type RelayedChannel = { channel: string; since: StreamPosition | null; token: string | null; maxRate?: number; joinPresence?: boolean };

export type TabMessage =
  | { type: 'leader'; tab: string }
  | { type: 'hello'; tab: string }
  | { type: 'sync'; tab: string; channels: RelayedChannel[] }
  | ({ type: 'subscribe'; tab: string } & RelayedChannel)
  | { type: 'unsubscribe'; tab: string; channel: string }
  | { type: 'publish'; tab: string; request: number; channel: string; data: unknown; idempotencyKey: string; options: RelayedPublishOptions }
  | { type: 'bye'; tab: string }
  | { type: 'state'; state: ConnectionState }
  | { type: 'publication'; publication: Publication }
  | { type: 'presence'; channel: string; presence: PresenceState }
  | { type: 'signal'; signal: Signal }
  | { type: 'reset'; reset: ResetEvent }
  | { type: 'subscriptionState'; channel: string; state: SubscriptionState }
  | { type: 'subscriptionError'; channel: string; error: { code: number; name: string; reason: string } }
  | { type: 'published'; tab: string; request: number; result?: PublishResult; error?: { code?: number; name: string; message: string } }
  | { type: 'receipt'; receipt: Receipt }
  | { type: 'call'; tab: string; request: number; method: RelayedMethod; args: unknown[] }
  | { type: 'answered'; tab: string; request: number; result?: unknown; error?: { code?: number; name: string; message: string } };

/** Client methods a tab runs through the hub. */
export type RelayedMethod = 'signal' | 'presence' | 'markRead' | 'receipts' | 'updatePresence' | 'history';

/** Publish options the hub applies for a tab (the idempotency key travels on its own). */
export type RelayedPublishOptions = Pick<PublishOptions, 'key' | 'priority' | 'receipts'>;

/** Who a hub message is for: one tab, the tabs of a channel, or every tab (`null`). Transports may ignore it. */
export type Recipients = string | ReadonlySet<string> | null;

/** Hub-side bookkeeping: the one real subscription per channel and which tabs want it. */
interface SharedSubscription {
  subscription: Subscription;
  tabs: Set<string>;
  /** Each tab's `token`/`maxRate`/`joinPresence`; the real subscription carries their combination. */
  options: Map<string, ListenerServerOptions>;
  /** Cleared when the subscription is replaced, so the old one's last callbacks reach no tab. */
  live: { current: boolean };
}

type ErrorLike = Error & { code?: number; reason?: string; errorName?: string };

/** Runs the real client for any number of tabs: one server subscription per channel, results routed back. */
export class RelayHub {
  private readonly shared = new Map<string, SharedSubscription>();
  /** The options each real subscription was made with. */
  private readonly currentOptions = new WeakMap<Subscription, ServerOptions>();
  private closing = false;

  constructor(
    readonly inner: SwitchboardClient,
    private readonly send: (message: TabMessage, to: Recipients) => void,
  ) {
    inner.on('state', (state) => this.send({ type: 'state', state }, null));
  }

  /** Tabs with at least one channel here (for tests and debugging). */
  get channels(): string[] {
    return [...this.shared.keys()];
  }

  /** Closes the real client; answers that only say "closed" are not sent (tabs re-send to the next hub). */
  close(): void {
    this.closing = true;
    this.inner.close();
  }

  handle(message: TabMessage): void {
    const inner = this.inner;
    if (this.closing) return;
    switch (message.type) {
      case 'hello':
        this.send({ type: 'state', state: inner.state }, message.tab);
        break;
      case 'sync':
        for (const item of message.channels) this.handle({ type: 'subscribe', tab: message.tab, ...item });
        break;
      case 'subscribe': {
        const existing = this.shared.get(message.channel);
        const tabOptions = listenerServerOptions(message);
        if (existing && existing.tabs.has(message.tab)) {
          // The tab's listeners changed what they ask for.
          existing.options.set(message.tab, tabOptions);
          this.renegotiate(message.channel, existing);
          break;
        }
        if (existing) {
          existing.tabs.add(message.tab);
          existing.options.set(message.tab, tabOptions);
          this.renegotiate(message.channel, existing);
          this.send({ type: 'subscriptionState', channel: message.channel, state: existing.subscription.state }, message.tab);
          const presence = existing.subscription.presence;
          if (presence) this.send({ type: 'presence', channel: message.channel, presence }, message.tab);
          break;
        }
        const channel = message.channel;
        // Created before subscribing: the subscription may report its state synchronously.
        const tabs = new Set([message.tab]);
        const live = { current: true };
        const options = new Map([[message.tab, tabOptions]]);
        const combined = combineServerOptions(options.values());
        const subscription = this.subscribeInner(channel, tabs, live, { since: message.since, ...combined });
        this.currentOptions.set(subscription, combined);
        this.shared.set(channel, { subscription, tabs, options, live });
        break;
      }
      case 'unsubscribe':
        this.dropTabFrom(message.tab, message.channel);
        break;
      case 'call': {
        const method = inner[message.method] as (...args: unknown[]) => Promise<unknown>;
        method
          .apply(inner, message.args)
          .then(
            (result) => ({ type: 'answered', tab: message.tab, request: message.request, result }) as TabMessage,
            (error: ErrorLike) =>
              ({
                type: 'answered',
                tab: message.tab,
                request: message.request,
                error: { code: error.code, name: error.errorName ?? error.name, message: error.reason ?? error.message },
              }) as TabMessage,
          )
          .then((answer) => this.answer(answer, message.tab));
        break;
      }
      case 'bye':
        this.dropTab(message.tab);
        break;
      case 'publish':
        inner
          .publish(message.channel, message.data, { ...message.options, idempotencyKey: message.idempotencyKey })
          .then(
            (result) => ({ type: 'published', tab: message.tab, request: message.request, result }) as TabMessage,
            (error: ErrorLike) =>
              ({ type: 'published', tab: message.tab, request: message.request, error: { code: error.code, name: error.name, message: error.message } }) as TabMessage,
          )
          .then((answer) => this.answer(answer, message.tab));
        break;
      default:
        break;
    }
  }

  /** A tab left (closed, or its page died): release its share of every subscription. */
  dropTab(tab: string): void {
    for (const channel of [...this.shared.keys()]) this.dropTabFrom(tab, channel);
  }

  private answer(answer: TabMessage, tab: string): void {
    if (this.closing && (answer as { error?: { name: string } }).error?.name === 'ClientClosedError') return;
    this.send(answer, tab);
  }

  private dropTabFrom(tab: string, channel: string): void {
    const shared = this.shared.get(channel);
    if (!shared || !shared.tabs.delete(tab)) return;
    shared.options.delete(tab);
    if (shared.tabs.size > 0) {
      this.renegotiate(channel, shared);
      return;
    }
    shared.live.current = false;
    shared.subscription.unsubscribe();
    this.shared.delete(channel);
  }

  /** The real client's subscription for the tabs of a channel; its callbacks stop when `live` is cleared. */
  private subscribeInner(
    channel: string,
    tabs: ReadonlySet<string>,
    live: { current: boolean },
    options: ServerOptions & { since?: StreamPosition | null },
  ): Subscription {
    const to = (message: TabMessage) => {
      if (live.current) this.send(message, tabs);
    };
    return this.inner.subscribe(channel, {
      ...(options.since !== undefined ? { since: options.since } : {}),
      token: options.token,
      ...(options.maxRate !== undefined ? { maxRate: options.maxRate } : {}),
      ...(options.joinPresence ? {} : { joinPresence: false }),
      onPublication: (publication) => to({ type: 'publication', publication }),
      onReset: (reset) => to({ type: 'reset', reset }),
      onPresence: (presence) => to({ type: 'presence', channel, presence }),
      onSignal: (signal) => to({ type: 'signal', signal }),
      onReceipt: (receipt) => to({ type: 'receipt', receipt }),
      onState: (state) => to({ type: 'subscriptionState', channel, state }),
      onError: (error) => to({ type: 'subscriptionError', channel, error: { code: error.code, name: error.errorName, reason: error.reason } }),
    });
  }

  /**
   * The tabs' combined `token`/`maxRate` changed: a new listener with the new options replaces the old one on the real
   * client, which then subscribes again from the channel's position (channels.ts); publications keep flowing to the
   * tabs (their duplicate guards drop what is sent twice).
   */
  private renegotiate(channel: string, shared: SharedSubscription): void {
    const next = combineServerOptions(shared.options.values());
    const old = shared.subscription;
    const current = this.currentOptions.get(old);
    if (current && sameServerOptions(next, current)) return;
    const live = { current: true };
    const subscription = this.subscribeInner(channel, shared.tabs, live, next);
    this.currentOptions.set(subscription, next);
    shared.live.current = false;
    old.unsubscribe();
    shared.subscription = subscription;
    shared.live = live;
  }
}

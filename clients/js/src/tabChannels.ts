// A relayed tab's subscriptions: per channel its listeners, position and duplicate guard, fed with what the hub
// relays (relay.ts). A replayed publication is dropped; a jump that only a hand-over can explain becomes a reset.

import { SwitchboardError, type StreamPosition } from './protocol.js';
import type { RelayedChannel, TabMessage } from './relay.js';
import { listenerOf, subscriptionHandle } from './subscriptionHandle.js';
import type { PresenceState, Publication, ResetEvent, SubscriptionListener, SubscriptionState } from './subscriptions.js';
import { combineServerOptions, listenerServerOptions, sameServerOptions, type ListenerServerOptions } from './subscriptionOptions.js';
import type { SubscribeOptions, Subscription } from './types.js';

interface TabEntry {
  channel: string;
  listeners: Set<SubscriptionListener>;
  position: StreamPosition | null;
  state: SubscriptionState;
  token: string | null;
  presence: PresenceState | null;
  maxRate?: number;
  joinPresence: boolean;
  /** Each listener's `token`/`maxRate`/`joinPresence`; the hub is told their combination (subscriptionOptions.ts). */
  listenerOptions: Map<SubscriptionListener, ListenerServerOptions>;
}

export interface TabChannelsHooks {
  /** The channel's first listener arrived: the hub should subscribe it. */
  subscribe(channel: RelayedChannel): void;
  /** The channel's last listener left. */
  unsubscribe(channel: string): void;
  /** Runs a listener callback; one that throws is reported, never breaks delivery to the others. */
  call(callback: () => void): void;
  /** The tab client's `reset` event. */
  reset(reset: ResetEvent): void;
}

export class TabChannels {
  private readonly entries = new Map<string, TabEntry>();
  /** This tab's own counts (`stats`): the hub's client cannot see this tab's duplicate guard. */
  readonly counters = { duplicatesDropped: 0, gapsSeen: 0, resets: 0 };

  constructor(private readonly hooks: TabChannelsHooks) {}

  subscribe(channel: string, options: SubscribeOptions): Subscription {
    let entry = this.entries.get(channel);
    const fresh = !entry;
    if (!entry) {
      entry = { channel, listeners: new Set(), position: options.since ? Object.freeze({ ...options.since }) : null, state: 'subscribing', token: options.token ?? null, presence: null, ...(options.maxRate !== undefined ? { maxRate: options.maxRate } : {}), joinPresence: options.joinPresence !== false, listenerOptions: new Map() };
      this.entries.set(channel, entry);
    }
    const listener = listenerOf(options);
    entry.listeners.add(listener);
    entry.listenerOptions.set(listener, listenerServerOptions(options));
    if (fresh) this.hooks.subscribe(relayed(entry));
    else this.renegotiate(entry);
    const owner = entry;
    return subscriptionHandle(channel, owner, () => {
      owner.listeners.delete(listener);
      owner.listenerOptions.delete(listener);
      this.hooks.call(() => listener.onState?.('unsubscribed'));
      if (this.entries.get(channel) !== owner) return;
      if (owner.listeners.size > 0) {
        this.renegotiate(owner);
        return;
      }
      this.entries.delete(channel);
      this.hooks.unsubscribe(channel);
    });
  }

  /** This tab's listeners now ask for other options: the hub hears the new combination (a `subscribe` again). */
  private renegotiate(entry: TabEntry): void {
    const next = combineServerOptions(entry.listenerOptions.values());
    if (sameServerOptions(next, { token: entry.token, maxRate: entry.maxRate, joinPresence: entry.joinPresence })) return;
    entry.token = next.token;
    if (next.maxRate === undefined) delete entry.maxRate;
    else entry.maxRate = next.maxRate;
    entry.joinPresence = next.joinPresence;
    this.hooks.subscribe(relayed(entry));
  }

  /** What a new hub needs to subscribe for this tab, from the positions this tab has. */
  list(): RelayedChannel[] {
    return [...this.entries.values()].map(relayed);
  }

  /** The client closed: every listener hears `unsubscribed`, then is forgotten. */
  close(): void {
    for (const entry of this.entries.values()) for (const listener of entry.listeners) this.hooks.call(() => listener.onState?.('unsubscribed'));
    this.entries.clear();
  }

  /** Applies a channel message of the hub; other messages are left to the caller. */
  receive(message: TabMessage): void {
    switch (message.type) {
      case 'receipt':
        this.each(this.entries.get(message.receipt.channel), (listener) => listener.onReceipt?.(message.receipt));
        break;
      case 'publication':
        this.deliver(message.publication);
        break;
      case 'presence': {
        const entry = this.entries.get(message.channel);
        if (!entry) break;
        entry.presence = message.presence;
        this.each(entry, (listener) => listener.onPresence?.(message.presence));
        break;
      }
      case 'signal':
        this.each(this.entries.get(message.signal.channel), (listener) => listener.onSignal?.(message.signal));
        break;
      case 'reset': {
        const entry = this.entries.get(message.reset.channel);
        if (!entry) break;
        entry.position = Object.freeze({ epoch: message.reset.epoch, offset: message.reset.offset });
        this.announceReset(entry, message.reset);
        break;
      }
      case 'subscriptionState': {
        const entry = this.entries.get(message.channel);
        if (!entry || entry.state === message.state || message.state === 'unsubscribed') break;
        entry.state = message.state;
        this.each(entry, (listener) => listener.onState?.(message.state));
        break;
      }
      case 'subscriptionError': {
        const entry = this.entries.get(message.channel);
        if (!entry) break;
        entry.state = 'failed';
        const error = new SwitchboardError(message.error);
        this.each(entry, (listener) => listener.onError?.(error));
        break;
      }
      default:
        break;
    }
  }

  private deliver(publication: Publication): void {
    const entry = this.entries.get(publication.channel);
    if (!entry) return;
    const position = entry.position;
    if (position && position.epoch === publication.epoch) {
      if (publication.offset <= position.offset) {
        this.counters.duplicatesDropped++;
        return;
      }
      // A skip the server announced (conflation) is intended; any other jump is a hand-over gap.
      if (publication.offset > position.offset + 1 && !publication.afterSkip) {
        // Only possible across a hand-over when this tab lagged the tab whose position the new hub used. Never
        // silent: the app is told to reload, as for any reset.
        this.counters.gapsSeen++;
        this.announceReset(entry, { channel: entry.channel, epoch: publication.epoch, offset: publication.offset - 1, reason: 'publications were missed during a tab hand-over' });
      }
    }
    entry.position = Object.freeze({ epoch: publication.epoch, offset: publication.offset });
    this.each(entry, (listener) => listener.onPublication?.(publication));
  }

  private announceReset(entry: TabEntry, reset: ResetEvent): void {
    this.counters.resets++;
    this.hooks.reset(reset);
    this.each(entry, (listener) => listener.onReset?.(reset));
  }

  /** Calls every listener of the entry, on a copy of the set (a listener may unsubscribe while being called). */
  private each(entry: TabEntry | undefined, callback: (listener: SubscriptionListener) => void): void {
    for (const listener of [...(entry?.listeners ?? [])]) this.hooks.call(() => callback(listener));
  }
}

/** What the hub is told of a channel: where this tab is and what its listeners ask for. */
function relayed(entry: TabEntry): RelayedChannel {
  return {
    channel: entry.channel,
    since: entry.position,
    token: entry.token,
    ...(entry.maxRate !== undefined ? { maxRate: entry.maxRate } : {}),
    ...(entry.joinPresence ? {} : { joinPresence: false }),
  };
}

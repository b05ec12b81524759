// Subscriptions: one `ChannelEntry` per channel however many listeners it has, subscribed on the link from its
// position, resubscribed after every reconnect, released with its last listener; pushes are routed to their channel.

import type { Link } from './link.js';
import type { Logger } from './log.js';
import { SwitchboardError, type Command } from './protocol.js';
import { memberOf, receiptOf, signalOf } from './pushes.js';
import { listenerOf, subscriptionHandle } from './subscriptionHandle.js';
import { ChannelEntry, type Publication, type ResetEvent, type SubscriptionListener } from './subscriptions.js';
import { combineServerOptions, listenerServerOptions, sameServerOptions } from './subscriptionOptions.js';
import type { SubscribeOptions, Subscription } from './types.js';

export interface ChannelsHooks {
  currentLink(): Link | null;
  /** A listener threw. */
  error(error: unknown): void;
  /** A resubscribe could not recover what was missed (the client's `reset` event). */
  reset(reset: ResetEvent): void;
}

export class Channels {
  private readonly entries = new Map<string, ChannelEntry>();
  /** Resets announced (`stats.resets`). */
  resets = 0;
  /** Counts of entries already released, kept for the stats. */
  private released = { duplicatesDropped: 0, gapsSeen: 0 };

  constructor(private readonly log: Logger, private readonly hooks: ChannelsHooks) {}

  get duplicatesDropped(): number {
    let count = this.released.duplicatesDropped;
    for (const entry of this.entries.values()) count += entry.duplicatesDropped;
    return count;
  }

  get gapsSeen(): number {
    let count = this.released.gapsSeen;
    for (const entry of this.entries.values()) count += entry.gapsSeen;
    return count;
  }

  subscribe(channel: string, options: SubscribeOptions): Subscription {
    let entry = this.entries.get(channel);
    const fresh = !entry;
    if (!entry) {
      entry = new ChannelEntry(channel, options.since ?? null, options.token ?? null, this.log, (error) => this.hooks.error(error));
      this.entries.set(channel, entry);
    }
    const listener = listenerOf(options);
    entry.listeners.add(listener);
    entry.listenerOptions.set(listener, listenerServerOptions(options));
    if (fresh) {
      entry.maxRate = options.maxRate;
      entry.joinPresence = options.joinPresence !== false;
    }
    else this.renegotiate(entry);
    if (fresh) {
      const link = this.hooks.currentLink();
      if (link?.connected) this.sendSubscribe(link, entry);
    } else if (entry.state === 'failed' && entry.retryOnReconnect === false) {
      // A new listener on a refused channel learns why right away instead of waiting forever.
      options.onState?.('failed');
    }
    const owner = entry;
    return subscriptionHandle(channel, owner, () => this.release(owner, listener));
  }

  /**
   * Keeps `info` as the channel's presence info (sent with every subscribe) and, while the server subscription is
   * held or being taken, sends it now; `send` sends the `presence_update` command. Offline: resolves at once.
   */
  updatePresence(channel: string, info: unknown, send: ((command: Command) => Promise<unknown>) | null): Promise<void> {
    const entry = this.entries.get(channel);
    if (!entry) return Promise.reject(new SwitchboardError({ code: 109, name: 'not_subscribed', reason: `subscribe to ${channel} first` }));
    entry.presenceInfo = info;
    if (!send || entry.serverState === 'none') return Promise.resolve();
    return send({ cmd: 'presence_update', channel, info }).then(() => undefined);
  }

  /** The namespace's signal interval, once a subscribe reply told it. */
  signalIntervalMs(channel: string): number | undefined {
    return this.entries.get(channel)?.signalIntervalMs;
  }

  /** Connected: every channel that wants a server subscription asks for it again, from its position. */
  resubscribe(link: Link): void {
    for (const entry of this.entries.values()) {
      if (entry.wantsServerSubscription) this.sendSubscribe(link, entry);
    }
  }

  /** The link ended, and every server subscription with it. */
  linkDropped(): void {
    for (const entry of this.entries.values()) {
      entry.serverState = 'none';
      if (entry.state === 'subscribed') entry.setState('subscribing');
    }
  }

  /** The client closed: every listener hears `unsubscribed`, then is forgotten. */
  close(): void {
    for (const entry of this.entries.values()) {
      entry.setState('unsubscribed');
      entry.listeners.clear();
    }
    this.entries.clear();
  }

  /** Returns whether the publication reached the channel's listeners (not a duplicate, not a stale one). */
  applyPublication(publication: Publication): boolean {
    return this.entries.get(publication.channel)?.applyPublication(publication) ?? false;
  }

  /** The channel-level pushes other than publications; others are ignored. */
  applyPush(push: Record<string, unknown>): void {
    const entry = this.entries.get(String(push.channel));
    if (!entry) return;
    switch (push.push) {
      case 'receipt':
        entry.applyReceipt(receiptOf(push));
        break;
      case 'conflated':
        entry.announceSkip();
        break;
      case 'reset': {
        const reset = entry.applyLiveReset(push);
        if (reset) {
          this.resets++;
          this.hooks.reset(reset);
        }
        break;
      }
      case 'join':
      case 'leave':
        entry.applyJoinLeave(push.push, memberOf(push));
        break;
      case 'presence_update':
        entry.applyPresenceUpdate(memberOf(push));
        break;
      case 'signal':
        entry.applySignal(signalOf(push));
        break;
      default:
        break;
    }
  }

  private sendSubscribe(link: Link, entry: ChannelEntry): void {
    const since = entry.position ? { ...entry.position } : null;
    entry.serverState = 'pending';
    entry.setState('subscribing');
    const command: Command = { cmd: 'subscribe', channel: entry.channel };
    if (since) command.since = since;
    if (entry.subscriptionToken) command.token = entry.subscriptionToken;
    if (entry.maxRate !== undefined) command.maxRate = entry.maxRate;
    if (!entry.joinPresence) command.join = false;
    if (entry.presenceInfo !== undefined) command.info = entry.presenceInfo;
    link.send(command, {
      onReply: (reply) => {
        if (this.entries.get(entry.channel) !== entry) return; // released meanwhile; its unsubscribe follows
        if (reply.error) {
          entry.applyError(reply.error);
          return;
        }
        const result = reply.result ?? {};
        if (since && result.recovered === false) {
          this.resets++;
          this.hooks.reset({
            channel: entry.channel,
            epoch: String(result.epoch),
            offset: Number(result.offset),
            reason: String(result.reason ?? ''),
          });
        }
        entry.applySubscribed(result, since);
        const snapshot = result.presence as { next?: unknown } | undefined;
        if (snapshot && typeof snapshot === 'object') {
          entry.applyPresencePage(snapshot, true);
          if (typeof snapshot.next === 'string') this.fetchPresencePages(link, entry, snapshot.next);
        }
      },
      onLost: () => {},
    });
  }

  private release(entry: ChannelEntry, listener: SubscriptionListener): void {
    if (!entry.listeners.delete(listener)) return;
    entry.listenerOptions.delete(listener);
    try {
      listener.onState?.('unsubscribed');
    } catch (error) {
      this.hooks.error(error);
    }
    if (this.entries.get(entry.channel) !== entry) return;
    if (entry.listeners.size > 0) {
      this.renegotiate(entry);
      return;
    }
    this.entries.delete(entry.channel);
    this.released.duplicatesDropped += entry.duplicatesDropped;
    this.released.gapsSeen += entry.gapsSeen;
    entry.state = 'unsubscribed';
    const link = this.hooks.currentLink();
    if (link?.connected && entry.serverState !== 'none') {
      // Commands run in order, so this lands after a subscribe still in flight; a 109 answer is harmless.
      link.send({ cmd: 'unsubscribe', channel: entry.channel }, { onReply: () => {}, onLost: () => {} });
    }
    entry.serverState = 'none';
  }

  /**
   * A listener came or went: when the combination of the listeners' `token`/`maxRate`/`joinPresence` changed, the server
   * subscription is taken again from the channel's position so that it carries the new one.
   */
  private renegotiate(entry: ChannelEntry): void {
    const next = combineServerOptions(entry.listenerOptions.values());
    if (sameServerOptions(next, { token: entry.subscriptionToken, maxRate: entry.maxRate, joinPresence: entry.joinPresence })) return;
    entry.subscriptionToken = next.token;
    entry.maxRate = next.maxRate;
    entry.joinPresence = next.joinPresence;
    // A refusal may not hold for the new token: the next subscribe tries again.
    if (entry.state === 'failed') entry.retryOnReconnect = true;
    const link = this.hooks.currentLink();
    if (!link?.connected) return; // the next connect subscribes with the new options
    this.log('subscription options changed: subscribing again', { channel: entry.channel, ...next });
    if (entry.serverState !== 'none') link.send({ cmd: 'unsubscribe', channel: entry.channel }, { onReply: () => {}, onLost: () => {} });
    this.sendSubscribe(link, entry);
  }

  private fetchPresencePages(link: Link, entry: ChannelEntry, cursor: string): void {
    link.send({ cmd: 'presence', channel: entry.channel, cursor, limit: 1000 }, {
      onReply: (reply) => {
        if (reply.error || this.entries.get(entry.channel) !== entry || link !== this.hooks.currentLink()) return;
        const page = reply.result ?? {};
        entry.applyPresencePage(page, false);
        if (typeof page.next === 'string') this.fetchPresencePages(link, entry, page.next);
      },
      onLost: () => {},
    });
  }
}

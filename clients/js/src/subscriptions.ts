// One server subscription per channel, shared by any number of listeners. The entry owns the channel's stream
// position: every publication moves it, and a resubscribe after any reconnect or transport switch sends it as
// `since`, which is what makes recovery exact (protocol.md §3).

import type { ErrorBody, StreamPosition } from './protocol.js';
import { SwitchboardError } from './protocol.js';
import type { Logger } from './log.js';
import type { ListenerServerOptions } from './subscriptionOptions.js';

export type SubscriptionState = 'subscribing' | 'subscribed' | 'unsubscribed' | 'failed';

/** A publication; `Data` is what the app publishes on the channel (the hub does not check it: type it, then validate). */
export interface Publication<Data = unknown> {
  channel: string;
  epoch: string;
  offset: number;
  data: Data;
  sender?: string;
  /** The publisher's conflation key (protocol.md §4.9), when it gave one. */
  key?: string;
  /** The publisher asked for receipts: the client has acknowledged delivery by itself; `markRead` marks it read. */
  receipts?: boolean;
  /** The server skipped older publications of this channel on purpose before this one (conflation, §4.9). */
  afterSkip?: boolean;
}

/** A recipient acknowledged one of your publications (protocol.md §4.11). */
export interface Receipt {
  channel: string;
  offset: number;
  user: string;
  status: 'delivered' | 'read';
}

/** One connection present on a channel (protocol.md §4.7). */
/** `Info` is the `info` clients give in `connect` (the client's `info` option). */
export interface PresenceMember<Info = unknown> {
  client: string;
  user?: string;
  info?: Info;
}

export interface PresenceState<Info = unknown> {
  /** Connections present. */
  clients: number;
  /** Distinct users among them (anonymous connections are not users). */
  users: number;
  members: PresenceMember<Info>[];
  /** False while member pages are still being fetched. */
  complete: boolean;
}

/** An ephemeral signal (typing, cursor, "seen"): never stored, never recovered (protocol.md §4.8). */
export interface Signal<Data = unknown> {
  channel: string;
  type: string;
  client: string;
  user?: string;
  data?: Data;
}

export interface ResetEvent {
  channel: string;
  /** The stream's current position; live publications continue after it. */
  epoch: string;
  offset: number;
  /** The server's reset reason (protocol.md §3), e.g. `epoch changed: history was lost`. */
  reason: string;
}

export interface SubscriptionListener<Data = unknown, Info = unknown> {
  onPublication?(publication: Publication<Data>): void;
  onState?(state: SubscriptionState): void;
  /** Missed publications could not be recovered: reload the state by other means, then continue live. */
  onReset?(reset: ResetEvent): void;
  onError?(error: SwitchboardError): void;
  /** Presence channels: the member list and counts, after the snapshot and after every join or leave. */
  onPresence?(presence: PresenceState<Info>): void;
  onSignal?(signal: Signal): void;
  /** Receipts of your own publications on this channel that asked for them (`publish(…, {receipts: true})`). */
  onReceipt?(receipt: Receipt): void;
}

/** Errors after which a later attempt may succeed; any other refusal stands until the app subscribes anew. */
const TRANSIENT_SUBSCRIBE_ERRORS = new Set([100, 128]);

export class ChannelEntry {
  readonly listeners = new Set<SubscriptionListener>();
  state: SubscriptionState = 'subscribing';
  position: StreamPosition | null;
  /** Whether the current link holds (or is acquiring) the server subscription. */
  serverState: 'none' | 'pending' | 'active' = 'none';
  retryOnReconnect = true;
  maxRate: number | undefined;
  /** False while every listener only watches presence (the subscribe carries `join: false`). */
  joinPresence = true;
  /** Each listener's `token`/`maxRate`; the server subscription carries their combination (subscriptionOptions.ts). */
  readonly listenerOptions = new Map<SubscriptionListener, ListenerServerOptions>();
  duplicatesDropped = 0;
  gapsSeen = 0;
  /** This connection's presence info on the channel (`updatePresence`), sent with every subscribe; undefined: the client's. */
  presenceInfo: unknown = undefined;
  /** The namespace's `signal_interval_ms` from the subscribe reply, when it takes signals. */
  signalIntervalMs: number | undefined;
  /** The server announced a conflation skip: the next offset jump is expected (protocol.md §4.9). */
  private skipAnnounced = false;
  private members: Map<string, PresenceMember> | null = null;
  private presenceCounts = { clients: 0, users: 0 };
  private presenceComplete = false;

  constructor(
    readonly channel: string,
    since: StreamPosition | null,
    public subscriptionToken: string | null,
    private readonly log: Logger,
    private readonly reportListenerError: (error: unknown) => void,
  ) {
    this.position = since ? Object.freeze({ epoch: since.epoch, offset: since.offset }) : null;
  }

  get wantsServerSubscription(): boolean {
    return this.listeners.size > 0 && (this.state !== 'failed' || this.retryOnReconnect);
  }

  setState(state: SubscriptionState): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of [...this.listeners]) this.call(() => listener.onState?.(state));
  }

  /** The subscribe reply. `sentSince` is the position the command carried, if any. */
  applySubscribed(result: Record<string, unknown>, sentSince: StreamPosition | null): void {
    this.serverState = 'active';
    if (typeof result.signal_interval_ms === 'number') this.signalIntervalMs = result.signal_interval_ms;
    const current = Object.freeze({ epoch: String(result.epoch), offset: Number(result.offset) });
    if (sentSince && result.recovered === false) {
      this.position = current;
      const reset: ResetEvent = { channel: this.channel, ...current, reason: String(result.reason ?? '') };
      this.log('reset', reset);
      this.setState('subscribed');
      for (const listener of [...this.listeners]) this.call(() => listener.onReset?.(reset));
      return;
    }
    // Recovered: the missed publications follow this reply and advance the position one by one from `since`.
    if (!sentSince) this.position = current;
    this.setState('subscribed');
  }

  applyError(error: ErrorBody): void {
    this.serverState = 'none';
    this.retryOnReconnect = TRANSIENT_SUBSCRIBE_ERRORS.has(error.code);
    this.setState('failed');
    const failure = new SwitchboardError(error);
    for (const listener of [...this.listeners]) this.call(() => listener.onError?.(failure));
  }

  /** Returns whether the publication was handed to the listeners (false for a duplicate or a stale one). */
  applyPublication(publication: Publication): boolean {
    // Publications before the subscribe reply belong to an earlier subscription of this channel; the server never
    // sends live ones ahead of the reply (protocol.md §4.3).
    if (this.serverState !== 'active') return false;
    const position = this.position;
    if (position && position.epoch === publication.epoch) {
      if (publication.offset <= position.offset) {
        this.duplicatesDropped++;
        this.log('duplicate dropped', { channel: this.channel, offset: publication.offset });
        return false;
      }
      if (publication.offset > position.offset + 1 && !this.skipAnnounced) {
        this.gapsSeen++;
        this.log('gap seen (server broke its recovery contract)', {
          channel: this.channel,
          expected: position.offset + 1,
          got: publication.offset,
        });
      }
    }
    if (this.skipAnnounced) publication = { ...publication, afterSkip: true };
    this.skipAnnounced = false;
    this.position = Object.freeze({ epoch: publication.epoch, offset: publication.offset });
    const delivered = publication;
    for (const listener of [...this.listeners]) this.call(() => listener.onPublication?.(delivered));
    return true;
  }

  /**
   * A `reset` push on a live subscription (protocol.md §3): the engine restarted the channel's stream or lost
   * publications it could not recover. Listeners hear it as a reset and the stream continues from its position.
   */
  applyLiveReset(push: Record<string, unknown>): ResetEvent | null {
    if (this.serverState !== 'active') return null;
    const current = Object.freeze({ epoch: String(push.epoch), offset: Number(push.offset) });
    this.position = current;
    this.skipAnnounced = false;
    const reset: ResetEvent = { channel: this.channel, ...current, reason: String(push.reason ?? '') };
    this.log('reset', reset);
    for (const listener of [...this.listeners]) this.call(() => listener.onReset?.(reset));
    return reset;
  }

  announceSkip(): void {
    this.skipAnnounced = true;
  }

  /**
   * The same object until presence changes, so that UI stores (React's useSyncExternalStore) can compare snapshots
   * by identity.
   */
  get presence(): PresenceState | null {
    return this.presenceSnapshot;
  }

  private presenceSnapshot: PresenceState | null = null;

  private computePresence(): PresenceState | null {
    if (!this.members) return null;
    const members = [...this.members.values()];
    if (!this.presenceComplete) return Object.freeze({ ...this.presenceCounts, members, complete: false });
    const users = new Set(members.filter((member) => member.user).map((member) => member.user));
    return Object.freeze({ clients: members.length, users: users.size, members, complete: true });
  }

  /** A snapshot (subscribe reply) replaces what was known; later pages (`presence` command) add to it. */
  applyPresencePage(page: { clients?: unknown; users?: unknown; members?: unknown; next?: unknown }, first: boolean): void {
    if (first || !this.members) this.members = new Map();
    for (const member of Array.isArray(page.members) ? (page.members as PresenceMember[]) : []) {
      this.members.set(member.client, member);
    }
    this.presenceCounts = { clients: Number(page.clients ?? this.members.size), users: Number(page.users ?? 0) };
    this.presenceComplete = typeof page.next !== 'string';
    this.notifyPresence();
  }

  /** Joins and leaves converge on the exact list: a known join or an unknown leave changes nothing (§4.7). */
  applyJoinLeave(kind: 'join' | 'leave', member: PresenceMember): void {
    if (!this.members) return;
    if (kind === 'join') {
      if (this.members.has(member.client)) return;
      this.members.set(member.client, member);
      this.presenceCounts.clients++;
    } else {
      if (!this.members.delete(member.client)) return;
      this.presenceCounts.clients = Math.max(0, this.presenceCounts.clients - 1);
    }
    this.notifyPresence();
  }

  /** A member changed its info (`presence_update` push); an unknown member changes nothing. */
  applyPresenceUpdate(member: PresenceMember): void {
    if (!this.members?.has(member.client)) return;
    this.members.set(member.client, member);
    this.notifyPresence();
  }

  applySignal(signal: Signal): void {
    for (const listener of [...this.listeners]) this.call(() => listener.onSignal?.(signal));
  }

  applyReceipt(receipt: Receipt): void {
    for (const listener of [...this.listeners]) this.call(() => listener.onReceipt?.(receipt));
  }

  private notifyPresence(): void {
    this.presenceSnapshot = this.computePresence();
    const presence = this.presenceSnapshot;
    if (!presence) return;
    for (const listener of [...this.listeners]) this.call(() => listener.onPresence?.(presence));
  }

  private call(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      // An application callback that throws must not break delivery to the others or the client's own state.
      this.reportListenerError(error);
    }
  }
}

import { useCallback, useSyncExternalStore } from 'react';
import type { Signal, Subscription, SwitchboardClientLike, TimerHandle, Timers } from '@switchboard/client';
import { useSwitchboardContext } from '../context.js';
import type { FrameBatcher } from '../frames.js';
import { FrameBatchedStore } from '../store.js';
import { useStoreFor } from './connection.js';

type SignalSender = (channel: string, type: string, data?: unknown) => Promise<{ coalesced: boolean }>;

/** `signal()` exists on the client that holds the connection; a tab sharing another tab's connection lacks it. */
function signalSender(client: SwitchboardClientLike): SignalSender {
  const candidate = (client as { signal?: SignalSender }).signal;
  if (typeof candidate !== 'function') {
    return () => Promise.reject(new Error('this client cannot send signals (a tab sharing another tab’s connection)'));
  }
  return candidate.bind(client);
}

/** Holds a channel subscription while mounted and hands every signal to the latest handler. Renders nothing itself. */
class SignalStore extends FrameBatchedStore<null> {
  onSignal: ((signal: Signal) => void) | undefined;
  private subscription: Subscription | null = null;

  constructor(private readonly client: SwitchboardClientLike, private readonly channel: string, batcher: FrameBatcher) {
    super(null, batcher);
  }

  protected attach(): void {
    this.subscription = this.client.subscribe(this.channel, { onSignal: (signal) => this.onSignal?.(signal) });
  }

  protected detach(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
  }

  protected nextSnapshot(): null {
    return null;
  }
}

/**
 * Ephemeral signals on `channel` (protocol.md §4.8): `onSignal` gets every one (yours included); the returned
 * `send(type, data?)` sends one. Signals are not queued: while disconnected `send` rejects (`NotConnectedError`).
 */
export function useSignal<Data = unknown>(
  channel: string,
  onSignal?: (signal: Signal<Data>) => void,
): (type: string, data?: Data) => Promise<{ coalesced: boolean }> {
  const { client, batcher } = useSwitchboardContext();
  const store = useStoreFor([client, batcher, channel], () => new SignalStore(client, channel, batcher));
  store.onSignal = onSignal as ((signal: Signal) => void) | undefined;
  useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
  return useCallback((type: string, data?: Data) => signalSender(client)(channel, type, data), [client, channel]);
}

export interface TypingMember {
  client: string;
  user?: string;
}

export interface UseTypingOptions {
  /** Someone who has not signalled for this long stops counting as typing (their "stop" may have been lost). */
  timeoutMs?: number;
  /** Send "typing" at most this often while the user keeps typing (the server coalesces too, §4.8). */
  sendIntervalMs?: number;
  /** The signal type (default `typing`). */
  type?: string;
}

export interface TypingSnapshot {
  /** Others typing now (not this connection), in the order they started. */
  typing: readonly TypingMember[];
  /** Call on every keystroke: sends "typing" at most every `sendIntervalMs`. */
  startTyping(): void;
  /** Call when the message is sent or the field cleared. */
  stopTyping(): void;
}

const TYPING_TIMEOUT_MS = 5000;
const TYPING_SEND_INTERVAL_MS = 1000;

class TypingStore extends FrameBatchedStore<readonly TypingMember[]> {
  private subscription: Subscription | null = null;
  private readonly typers = new Map<string, { member: TypingMember; expiry: TimerHandle }>();
  private lastSentAt: number | null = null;

  constructor(
    private readonly client: SwitchboardClientLike,
    private readonly channel: string,
    private readonly options: Required<UseTypingOptions>,
    private readonly timers: Timers,
    batcher: FrameBatcher,
  ) {
    super([], batcher);
  }

  protected attach(): void {
    this.subscription = this.client.subscribe(this.channel, { onSignal: (signal) => this.receive(signal) });
  }

  protected detach(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
    for (const { expiry } of this.typers.values()) this.timers.clearTimeout(expiry);
    this.typers.clear();
    this.changed();
  }

  private receive(signal: Signal): void {
    if (signal.type !== this.options.type) return;
    const state = this.client.state;
    if (state.status === 'connected' && signal.client === state.clientId) return;
    const known = this.typers.get(signal.client);
    if (known) this.timers.clearTimeout(known.expiry);
    const typing = (signal.data as { typing?: unknown } | undefined)?.typing !== false;
    if (!typing) {
      if (known) this.typers.delete(signal.client);
    } else {
      const member: TypingMember = { client: signal.client, ...(signal.user ? { user: signal.user } : {}) };
      const expiry = this.timers.setTimeout(() => {
        this.typers.delete(signal.client);
        this.changed();
      }, this.options.timeoutMs);
      this.typers.set(signal.client, { member: known?.member ?? member, expiry });
    }
    this.changed();
  }

  readonly startTyping = (): void => {
    const now = this.timers.now();
    if (this.lastSentAt !== null && now - this.lastSentAt < this.options.sendIntervalMs) return;
    this.lastSentAt = now;
    this.send(true);
  };

  readonly stopTyping = (): void => {
    if (this.lastSentAt === null) return;
    this.lastSentAt = null;
    this.send(false);
  };

  private send(typing: boolean): void {
    // Best effort: a typing indicator lost while offline is not worth an error.
    signalSender(this.client)(this.channel, this.options.type, { typing }).catch(() => {});
  }

  protected nextSnapshot(current: readonly TypingMember[]): readonly TypingMember[] {
    const members = [...this.typers.values()].map((typer) => typer.member);
    const same = members.length === current.length && members.every((member, index) => member === current[index]);
    return same ? current : Object.freeze(members);
  }
}

/**
 * Typing indicators over signals: who else is typing on `channel`, and `startTyping`/`stopTyping` for this user.
 * Thin on purpose — when the client grows its own typing helper this hook should only adapt it to React.
 */
export function useTyping(channel: string, options: UseTypingOptions = {}): TypingSnapshot {
  const { client, batcher, timers } = useSwitchboardContext();
  const resolved: Required<UseTypingOptions> = {
    timeoutMs: options.timeoutMs ?? TYPING_TIMEOUT_MS,
    sendIntervalMs: options.sendIntervalMs ?? TYPING_SEND_INTERVAL_MS,
    type: options.type ?? 'typing',
  };
  const store = useStoreFor(
    [client, batcher, timers, channel, resolved.timeoutMs, resolved.sendIntervalMs, resolved.type],
    () => new TypingStore(client, channel, resolved, timers, batcher),
  );
  const typing = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
  return { typing, startTyping: store.startTyping, stopTyping: store.stopTyping };
}

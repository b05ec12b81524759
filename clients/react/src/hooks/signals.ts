import { useCallback, useSyncExternalStore } from 'react';
import { typingIndicator, type Signal, type Subscription, type SwitchboardClientLike, type Timers, type TypingIndicator } from '@switchboard/client';
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

/** The options with their defaults; no `sendIntervalMs` means the server's interval. */
type ResolvedTypingOptions = Required<Omit<UseTypingOptions, 'sendIntervalMs'>> & Pick<UseTypingOptions, 'sendIntervalMs'>;

export interface UseTypingOptions {
  /** Someone who has not signalled for this long stops counting as typing (their "stop" may have been lost). */
  timeoutMs?: number;
  /**
   * Send "typing" at most this often while the user keeps typing (the server coalesces too, §4.8). Default: the
   * namespace's `signal_interval_ms` from the subscribe reply, else 1000.
   */
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
const NOBODY: readonly TypingMember[] = Object.freeze([]);

/** Adapts the client's `TypingIndicator` (typing.ts) to React: it holds one while mounted and renders its typists. */
class TypingStore extends FrameBatchedStore<readonly TypingMember[]> {
  private indicator: TypingIndicator | null = null;

  constructor(
    private readonly client: SwitchboardClientLike,
    private readonly channel: string,
    private readonly options: ResolvedTypingOptions,
    private readonly timers: Timers,
    batcher: FrameBatcher,
  ) {
    super(NOBODY, batcher);
  }

  protected attach(): void {
    this.indicator = typingIndicator(this.client, this.channel, {
      type: this.options.type,
      intervalMs: this.options.sendIntervalMs,
      expireAfterMs: this.options.timeoutMs,
      timers: this.timers,
      onChange: () => this.changed(),
    });
  }

  protected detach(): void {
    this.indicator?.close();
    this.indicator = null;
    this.changed();
  }

  readonly startTyping = (): void => this.indicator?.typing();

  readonly stopTyping = (): void => this.indicator?.stop();

  protected nextSnapshot(): readonly TypingMember[] {
    // The indicator keeps one frozen array until its list changes, so identity says whether to render.
    return this.indicator?.typists ?? NOBODY;
  }
}

/**
 * Typing indicators over signals: who else is typing on `channel`, and `startTyping`/`stopTyping` for this user — the
 * client's `typingIndicator()` (leading and trailing throttle to one signal per `sendIntervalMs` or the server's interval, expiry after
 * `timeoutMs` of silence), rendered at most once per frame.
 */
export function useTyping(channel: string, options: UseTypingOptions = {}): TypingSnapshot {
  const { client, batcher, timers } = useSwitchboardContext();
  const resolved: ResolvedTypingOptions = {
    timeoutMs: options.timeoutMs ?? TYPING_TIMEOUT_MS,
    sendIntervalMs: options.sendIntervalMs,
    type: options.type ?? 'typing',
  };
  const store = useStoreFor(
    [client, batcher, timers, channel, resolved.timeoutMs, resolved.sendIntervalMs, resolved.type],
    () => new TypingStore(client, channel, resolved, timers, batcher),
  );
  const typing = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
  return { typing, startTyping: store.startTyping, stopTyping: store.stopTyping };
}

// One client for the whole tree. Given a `client`, the provider only shares it (the app owns its lifecycle). Given a
// `url`, the provider owns one. Render only builds a `DeferredClient` stand-in (no socket, lock, BroadcastChannel or
// timer: StrictMode's discarded render and server rendering leave nothing behind); the real client is created by the
// first effect that uses it, connected when the provider mounts, and closed a microtask after it unmounts — a
// StrictMode re-mount in between keeps the same client and its single connection.

import { createContext, createElement, useContext, useEffect, useMemo, useRef, useState, type ReactElement, type ReactNode } from 'react';
import { createClient, realTimers, type CreateClientOptions, type SwitchboardClientLike, type Timers } from '@switchboard/client';
import { DeferredClient } from './deferredClient.js';
import { FrameBatcher, type FrameScheduler } from './frames.js';

export interface SwitchboardContextValue {
  client: SwitchboardClientLike;
  batcher: FrameBatcher;
  /** Timers for the hooks' own deadlines (typing indicators expire); fake ones in tests. */
  timers: Timers;
}

const SwitchboardContext = createContext<SwitchboardContextValue | null>(null);

export interface SwitchboardProviderProps {
  /** A client the app created and owns. */
  client?: SwitchboardClientLike;
  /** Or: the hub's URL, and the provider creates (and closes) the client. Read once, at mount. */
  url?: string;
  /** Token source for the client the provider creates; the latest function given is the one called. */
  getToken?: () => Promise<string | null> | string | null;
  /** Further options for the client the provider creates (transports, backoff, …). */
  options?: Omit<CreateClientOptions, 'url' | 'getToken' | 'autoConnect'>;
  /** Where animation frames come from (default `requestAnimationFrame`); the testing kit has a manual one. */
  frames?: FrameScheduler;
  /** Timers for the hooks (default the real ones). */
  timers?: Timers;
  children?: ReactNode;
}

export function SwitchboardProvider(props: SwitchboardProviderProps): ReactElement {
  const latestGetToken = useRef(props.getToken);
  latestGetToken.current = props.getToken;
  const [owned] = useState(() => (props.client ? null : createOwnedClient(props, () => latestGetToken.current)));
  const client = props.client ?? owned?.client;
  if (!client) throw new Error('SwitchboardProvider needs a `client` or a `url`');

  useEffect(() => owned?.retain(), [owned]);

  const [batcher] = useState(() => new FrameBatcher(props.frames));
  const timers = props.timers ?? realTimers;
  const value = useMemo<SwitchboardContextValue>(() => ({ client, batcher, timers }), [client, batcher, timers]);
  return createElement(SwitchboardContext.Provider, { value }, props.children);
}

interface OwnedClient {
  client: SwitchboardClientLike;
  /** Connects (once) and returns the release function for the effect's cleanup. */
  retain(): () => void;
}

function createOwnedClient(
  props: SwitchboardProviderProps,
  getToken: () => SwitchboardProviderProps['getToken'],
): OwnedClient {
  const { url } = props;
  if (!url) throw new Error('SwitchboardProvider needs a `client` or a `url`');
  const client = new DeferredClient(() =>
    createClient({
      ...props.options,
      url,
      // Without getToken at mount the client uses `options.token` (or none); with it, always the latest function.
      ...(props.getToken ? { getToken: () => getToken()?.() ?? null } : {}),
      autoConnect: false,
    }),
  );
  let connected = false;
  let releaseTicket = 0;
  return {
    client,
    retain() {
      releaseTicket++;
      if (!connected) {
        connected = true;
        client.connect();
      }
      return () => {
        const ticket = ++releaseTicket;
        queueMicrotask(() => {
          if (ticket === releaseTicket) client.close();
        });
      };
    },
  };
}

/** The provider's client, frame batcher and timers. Throws outside a provider (a missing provider is a bug). */
export function useSwitchboardContext(): SwitchboardContextValue {
  const value = useContext(SwitchboardContext);
  if (!value) throw new Error('Switchboard hooks must be used inside <SwitchboardProvider>');
  return value;
}

/** The provider's value when there is one: the low-level hooks work without a provider. */
export function useOptionalSwitchboardContext(): SwitchboardContextValue | null {
  return useContext(SwitchboardContext);
}

/** The shared client, for what the hooks do not cover. */
export function useSwitchboardClient(): SwitchboardClientLike {
  return useSwitchboardContext().client;
}

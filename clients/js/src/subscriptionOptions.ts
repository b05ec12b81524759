// How the listeners of one channel share its single server subscription: each listener states its own `token`,
// `maxRate` and whether it joins presence, and the server subscription carries their combination. When a listener
// arrives or leaves and the combination changes, the client subscribes again from the channel's position
// (unsubscribe, then subscribe with `since`), so the change takes effect with nothing lost (the duplicate guard drops
// what is sent twice).

/** What one listener asks of the server subscription. */
export interface ListenerServerOptions {
  token?: string | null;
  maxRate?: number;
  /** False: this listener only watches the channel's presence (`joinPresence: false`). */
  joinPresence?: boolean;
}

/** What the server subscription carries. */
export interface ServerOptions {
  token: string | null;
  maxRate: number | undefined;
  joinPresence: boolean;
}

/** The server-side part of a listener's subscribe options, with only the members it set. */
export function listenerServerOptions(options: ListenerServerOptions): ListenerServerOptions {
  return {
    token: options.token ?? null,
    ...(options.maxRate !== undefined ? { maxRate: options.maxRate } : {}),
    ...(options.joinPresence === false ? { joinPresence: false } : {}),
  };
}

/**
 * - `maxRate`: the fastest any listener asked for; none (no cap) as soon as one listener asked for no cap. No listener
 *   gets fewer updates than it asked for (the React hooks render once per frame anyway).
 * - `token`: the most recent listener's token (a component that got a fresh token for a private channel brings it).
 * - `joinPresence`: joined as soon as one listener joins (the default); watching only when every listener only watches.
 */
export function combineServerOptions(all: Iterable<ListenerServerOptions>): ServerOptions {
  let token: string | null = null;
  let maxRate: number | undefined;
  let uncapped = false;
  let any = false;
  let joins = false;
  for (const options of all) {
    any = true;
    if (options.token) token = options.token;
    if (typeof options.maxRate === 'number') maxRate = Math.max(maxRate ?? 0, options.maxRate);
    else uncapped = true;
    if (options.joinPresence !== false) joins = true;
  }
  return { token, maxRate: uncapped || !any ? undefined : maxRate, joinPresence: joins || !any };
}

export function sameServerOptions(a: ServerOptions, b: ServerOptions): boolean {
  return a.token === b.token && a.maxRate === b.maxRate && a.joinPresence === b.joinPresence;
}

// How the listeners of one channel share its single server subscription: each listener states its own `token` and
// `maxRate`, and the server subscription carries their combination. When a listener arrives or leaves and the
// combination changes, the client subscribes again from the channel's position (unsubscribe, then subscribe with
// `since`), so the change takes effect with nothing lost (the duplicate guard drops what is sent twice).

/** What one listener asks of the server subscription. */
export interface ListenerServerOptions {
  token?: string | null;
  maxRate?: number;
}

/** What the server subscription carries. */
export interface ServerOptions {
  token: string | null;
  maxRate: number | undefined;
}

/**
 * - `maxRate`: the fastest any listener asked for; none (no cap) as soon as one listener asked for no cap. No listener
 *   gets fewer updates than it asked for (the React hooks render once per frame anyway).
 * - `token`: the most recent listener's token (a component that got a fresh token for a private channel brings it).
 */
export function combineServerOptions(all: Iterable<ListenerServerOptions>): ServerOptions {
  let token: string | null = null;
  let maxRate: number | undefined;
  let uncapped = false;
  let any = false;
  for (const options of all) {
    any = true;
    if (options.token) token = options.token;
    if (typeof options.maxRate === 'number') maxRate = Math.max(maxRate ?? 0, options.maxRate);
    else uncapped = true;
  }
  return { token, maxRate: uncapped || !any ? undefined : maxRate };
}

export function sameServerOptions(a: ServerOptions, b: ServerOptions): boolean {
  return a.token === b.token && a.maxRate === b.maxRate;
}

// The connection token's lifecycle: obtained before connecting when none is held, dropped when the server refuses it,
// refreshed in band ahead of its expiry or when the server asks (how far ahead is tokens.ts).

import type { Link } from './link.js';
import type { Logger } from './log.js';
import { TokenTimeoutError } from './errors.js';
import { isTokenError, SwitchboardError } from './protocol.js';
import { TimerSlot, type Timers } from './timers.js';
import { refreshDelayMs } from './tokens.js';
import type { ClientOptions } from './types.js';

export interface TokenKeeperHooks {
  currentLink(): Link | null;
  /** A check that stays true while the connection's current run lasts (no new attempt, no stop). */
  runCheck(): () => boolean;
  error(error: unknown): void;
}

export class TokenKeeper {
  /** `undefined`: none held, ask `getToken` before the next attempt. */
  private token: string | null | undefined;
  private refreshing = false;
  /** In-band refreshes the server accepted (`stats.refreshes`). */
  refreshes = 0;
  private readonly timer: TimerSlot;

  constructor(
    private readonly options: ClientOptions,
    private readonly timers: Timers,
    private readonly log: Logger,
    private readonly hooks: TokenKeeperHooks,
  ) {
    this.token = options.getToken ? undefined : options.token ?? null;
    this.timer = new TimerSlot(timers);
  }

  /** Whether a refused token can be replaced (there is a `getToken`). */
  get renewable(): boolean {
    return Boolean(this.options.getToken);
  }

  /** The token for the next attempt, asking `getToken` when none is held. */
  async resolve(): Promise<string | null> {
    if (this.token !== undefined) return this.token;
    const getToken = this.options.getToken;
    this.token = getToken ? await this.callGetToken(getToken) : this.options.token ?? null;
    return this.token;
  }

  /** Calls `getToken`, failing with `TokenTimeoutError` when it does not settle in time (a hung token endpoint). */
  private callGetToken(getToken: NonNullable<ClientOptions['getToken']>): Promise<string | null> {
    const timeoutMs = this.options.getTokenTimeoutMs ?? 10000;
    return new Promise<string | null>((resolve, reject) => {
      const timer = timeoutMs > 0 ? this.timers.setTimeout(() => reject(new TokenTimeoutError(timeoutMs)), timeoutMs) : null;
      const settle = () => {
        if (timer !== null) this.timers.clearTimeout(timer);
      };
      Promise.resolve()
        .then(getToken)
        .then(
          (token) => (settle(), resolve(token ?? null)),
          (error: unknown) => (settle(), reject(error)),
        );
    });
  }

  /** The server refused the token: the next attempt asks for a new one. */
  invalidate(): void {
    this.token = undefined;
  }

  /** After a connect or refresh reply that says when the token expires (`expires`, Unix seconds). */
  scheduleRefresh(expires: unknown): void {
    if (!this.options.getToken || typeof expires !== 'number') return;
    if (this.options.proactiveRefresh === false) return;
    const delay = refreshDelayMs(expires, this.timers.now(), this.token, this.options.refreshBeforeExpiryMs ?? 15000);
    this.timer.arm(delay, () => void this.refresh());
  }

  /** Gets a new token and hands it to the server on the live link (`refresh` command), without reconnecting. */
  async refresh(): Promise<void> {
    const getToken = this.options.getToken;
    if (!getToken || this.refreshing) return;
    this.refreshing = true;
    const stillCurrent = this.hooks.runCheck();
    try {
      const token = await this.callGetToken(getToken);
      if (!stillCurrent()) return;
      this.token = token;
      const link = this.hooks.currentLink();
      if (!link?.connected || !token) return;
      this.log('refreshing token in band');
      link.send({ cmd: 'refresh', token }, {
        onReply: (reply) => {
          if (reply.error) {
            this.log('refresh refused', reply.error);
            if (isTokenError(reply.error.code)) this.token = undefined;
            this.hooks.error(new SwitchboardError(reply.error));
            return;
          }
          this.refreshes++;
          if (link === this.hooks.currentLink()) this.scheduleRefresh(reply.result?.expires);
        },
        onLost: () => {},
      });
    } catch (error) {
      this.log('getToken failed during refresh', String(error));
      this.hooks.error(error);
    } finally {
      this.refreshing = false;
    }
  }

  cancelTimers(): void {
    this.timer.cancel();
  }
}

// The browser's hints that a reconnect is worth trying now rather than after the rest of the backoff wait: the
// network came back (`online`) or the tab became visible again. Listened to only while the client means to be
// connected, so a stopped client leaves no listener behind.

import type { ClientEnvironment } from './types.js';

export class WakeSignals {
  private readonly environment: ClientEnvironment | null;
  private attached = false;

  /** `environment`: the app's, `null` for none, `undefined` for the global scope's when it has one. */
  constructor(environment: ClientEnvironment | null | undefined, private readonly wake: () => void) {
    this.environment = environment !== undefined ? environment : globalEnvironment();
  }

  attach(): void {
    const environment = this.environment;
    if (!environment || this.attached) return;
    this.attached = true;
    environment.addEventListener('online', this.onSignal);
    environment.document?.addEventListener('visibilitychange', this.onSignal);
  }

  detach(): void {
    const environment = this.environment;
    if (!environment || !this.attached) return;
    this.attached = false;
    environment.removeEventListener('online', this.onSignal);
    environment.document?.removeEventListener('visibilitychange', this.onSignal);
  }

  /** A tab that became hidden is no reason to hurry. */
  private onSignal = (): void => {
    const document = this.environment?.document;
    if (document && document.visibilityState && document.visibilityState !== 'visible') return;
    this.wake();
  };
}

function globalEnvironment(): ClientEnvironment | null {
  const scope = globalThis as unknown as Partial<ClientEnvironment> & { document?: ClientEnvironment['document'] };
  if (typeof scope.addEventListener !== 'function' || typeof scope.removeEventListener !== 'function') return null;
  return scope as ClientEnvironment;
}

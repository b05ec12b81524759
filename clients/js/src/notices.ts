// The operator's notices (protocol §13): a `notice` push becomes a `notice` event; without a listener it is logged
// once per client with console.warn, because a developer must see a deprecation without having wired anything.

import type { Logger } from './log.js';
import type { ServerNotice } from './types.js';

export class NoticeReporter {
  private listeners = 0;
  private warned = false;

  constructor(
    private readonly log: Logger,
    private readonly emit: (notice: ServerNotice) => void,
  ) {}

  /** An app listens for `notice` from now on: no console warning is needed. */
  listenerAdded(): void {
    this.listeners++;
  }

  report(push: Record<string, unknown>): void {
    const notice: ServerNotice = {
      kind: String(push.kind ?? ''),
      message: String(push.message ?? ''),
      ...(typeof push.sunset === 'string' ? { sunset: push.sunset } : {}),
    };
    this.log('notice', notice);
    if (this.listeners === 0 && !this.warned) {
      this.warned = true;
      console.warn(`[switchboard] ${notice.message}${notice.sunset ? ` (sunset ${notice.sunset})` : ''}`);
    }
    this.emit(notice);
  }
}

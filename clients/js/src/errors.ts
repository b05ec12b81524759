// Errors the client rejects promises with (server refusals are SwitchboardError, in protocol.ts).

export class NotConnectedError extends Error {
  constructor(what: string) {
    super(`${what} needs a connection (it is not queued while offline)`);
    this.name = 'NotConnectedError';
  }
}

export class PublishQueueFullError extends Error {
  constructor(limit: number) {
    super(`publish queue is full (${limit} publishes waiting for a connection)`);
    this.name = 'PublishQueueFullError';
  }
}

/**
 * A publish with a timeout (`publishTimeoutMs`, `PublishOptions.timeoutMs`) got no answer in time. It may still have
 * been stored if it was sent: publishing again with the same `idempotencyKey` is safe (stored once).
 */
export class PublishTimeoutError extends Error {
  constructor(readonly timeoutMs: number, readonly sent: boolean) {
    super(`publish not answered within ${timeoutMs} ms (${sent ? 'sent: it may still be stored' : 'never sent'})`);
    this.name = 'PublishTimeoutError';
  }
}

/** `getToken` did not settle within `getTokenTimeoutMs`: the attempt fails and the client retries with backoff. */
export class TokenTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`getToken did not settle within ${timeoutMs} ms`);
    this.name = 'TokenTimeoutError';
  }
}

export class ClientClosedError extends Error {
  constructor(reason = 'client closed') {
    super(reason);
    this.name = 'ClientClosedError';
  }
}

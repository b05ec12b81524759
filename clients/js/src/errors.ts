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

export class ClientClosedError extends Error {
  constructor(reason = 'client closed') {
    super(reason);
    this.name = 'ClientClosedError';
  }
}

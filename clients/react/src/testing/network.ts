// Faults between a test client and the FakeServer, at the client's transport seam: hold back the server's messages
// (a slow network) and release them, refuse publishes with a chosen error, cut the connection. The FakeServer itself
// is the client's (clients/js/src/testing); this wraps its transports, so the client under test runs its real logic.

import { createClient, type CreateClientOptions, type SwitchboardClientLike } from '@switchboard/client';
import { FakeServer } from '@switchboard/client/testing';
import type { Command, ServerMessage, Transport, TransportFactory, TransportHandlers } from '@switchboard/client';

export interface PublishFailure {
  code: number;
  name: string;
  reason: string;
}

interface FailureRule {
  command: 'publish' | 'subscribe';
  matches(channel: string): boolean;
  error: PublishFailure;
  remaining: number;
}

export class TestNetwork {
  private holding = false;
  private readonly held: Array<() => void> = [];
  private readonly rules: FailureRule[] = [];
  private readonly links = new Set<FaultyLink>();

  constructor(readonly server: FakeServer = new FakeServer()) {}

  /** A transport factory to give the client (`transports: [network.transport()]`). */
  transport(name = 'websocket'): TransportFactory {
    const inner = this.server.transport(name);
    return { name, create: (context) => new FaultyLink(this, inner.create(context)) };
  }

  /** From now on the server's messages wait (in order) until `release()`: a slow network. */
  hold(): void {
    this.holding = true;
  }

  /** Delivers every held message, in order, and stops holding. */
  release(): void {
    this.holding = false;
    for (const deliver of this.held.splice(0)) deliver();
  }

  get heldMessages(): number {
    return this.held.length;
  }

  /**
   * The next `times` publishes to a matching channel are refused with `error` (default `103 publish_denied`), as the
   * server would refuse them; other commands pass.
   */
  failPublishes(
    channel: string | ((channel: string) => boolean),
    { error = { code: 103, name: 'publish_denied', reason: 'refused by the test' }, times = Infinity }: { error?: PublishFailure; times?: number } = {},
  ): void {
    const matches = typeof channel === 'string' ? (name: string) => name === channel : channel;
    this.rules.push({ command: 'publish', matches, error, remaining: times });
  }

  /**
   * The next `times` subscribes to a matching channel are refused with `error` (default `101 unauthorized`), as the
   * server refuses a channel the session may not read.
   */
  failSubscribes(
    channel: string | ((channel: string) => boolean),
    { error = { code: 101, name: 'unauthorized', reason: 'refused by the test' }, times = Infinity }: { error?: PublishFailure; times?: number } = {},
  ): void {
    const matches = typeof channel === 'string' ? (name: string) => name === channel : channel;
    this.rules.push({ command: 'subscribe', matches, error, remaining: times });
  }

  /** Cuts every connection (the client sees 1006 and reconnects); with a 4xxx code, a server close. */
  cut(code?: number, reason?: string): void {
    this.server.disconnectAll(code, reason);
  }

  /** @internal */
  refusal(command: Command): PublishFailure | null {
    const rule = this.rules.find(
      (candidate) => candidate.command === command.cmd && candidate.remaining > 0 && candidate.matches(String(command.channel)),
    );
    if (!rule) return null;
    rule.remaining--;
    return rule.error;
  }

  /** @internal */
  deliver(deliver: () => void): void {
    if (this.holding) this.held.push(deliver);
    else deliver();
  }

  /** @internal */
  track(link: FaultyLink, open: boolean): void {
    if (open) this.links.add(link);
    else this.links.delete(link);
  }

  /** Transports the client holds open right now (a closed client must hold none). */
  get openLinks(): number {
    return this.links.size;
  }
}

class FaultyLink implements Transport {
  readonly name: string;
  private handlers: TransportHandlers | null = null;
  private closed = false;

  constructor(private readonly network: TestNetwork, private readonly inner: Transport) {
    this.name = inner.name;
  }

  open(handlers: TransportHandlers): void {
    this.handlers = handlers;
    this.network.track(this, true);
    const live = () => !this.closed;
    this.inner.open({
      onOpen: () => handlers.onOpen(),
      onActivity: () => this.network.deliver(() => live() && handlers.onActivity()),
      onMessage: (message) => this.network.deliver(() => live() && handlers.onMessage(message)),
      onClose: (event) =>
        this.network.deliver(() => {
          if (!live()) return;
          this.closed = true;
          this.network.track(this, false);
          handlers.onClose(event);
        }),
    });
  }

  send(commands: Command[]): void {
    const passed: Command[] = [];
    for (const command of commands) {
      const refusal = this.network.refusal(command);
      if (!refusal) {
        passed.push(command);
        continue;
      }
      const reply: ServerMessage = { id: command.id as number, error: refusal };
      // Answered a microtask later, like the fake server's own replies.
      void Promise.resolve().then(() => this.network.deliver(() => !this.closed && this.handlers?.onMessage(reply)));
    }
    if (passed.length > 0) this.inner.send(passed);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.network.track(this, false);
    this.inner.close();
  }
}

/** A client wired to the fake server through `network` (no environment listeners; options as for createClient). */
export function createTestClient(
  network: TestNetwork,
  options: Partial<CreateClientOptions> = {},
): SwitchboardClientLike {
  return createClient({ url: 'http://switchboard.test', environment: null, transports: [network.transport()], ...options });
}

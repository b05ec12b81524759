// Wire protocol v1 (docs/protocol.md): the JSON shapes the client sends and receives, and the
// close-code rule of §6 that decides whether to reconnect.

export interface StreamPosition {
  epoch: string;
  offset: number;
}

export interface Command {
  id?: number;
  cmd:
    | 'connect'
    | 'subscribe'
    | 'unsubscribe'
    | 'publish'
    | 'ping'
    | 'pong'
    | 'refresh'
    | 'presence'
    | 'signal'
    | 'ack'
    | 'receipts'
    | 'presence_update'
    | 'history';
  [field: string]: unknown;
}

export interface ErrorBody {
  code: number;
  name: string;
  reason: string;
}

export interface Reply {
  id: number;
  result?: Record<string, unknown>;
  error?: ErrorBody;
}

export interface Push {
  push: string;
  [field: string]: unknown;
}

export type ServerMessage = Reply | Push;

export function isReply(message: ServerMessage): message is Reply {
  return typeof (message as Reply).id === 'number' && (message as Push).push === undefined;
}

/** Error codes of protocol.md §5 that the client acts on. */
export const ErrorCode = {
  internalError: 100,
  unauthorized: 101,
  messageTooLarge: 110,
  malformedJson: 111,
  invalidToken: 123,
  tokenExpired: 124,
  tokenReused: 126,
  rateLimited: 128,
  sessionNotFound: 129,
  receiptNotFound: 134,
} as const;

/** An error the server answered (or the client synthesised in the same shape). */
export class SwitchboardError extends Error {
  readonly code: number;
  readonly errorName: string;
  readonly reason: string;
  constructor(body: ErrorBody) {
    super(`${body.name} (${body.code}): ${body.reason}`);
    this.name = 'SwitchboardError';
    this.code = body.code;
    this.errorName = body.name;
    this.reason = body.reason;
  }
}

export type CloseAdvice = 'reconnect' | 'new-token' | 'stop';

/**
 * protocol.md §6, "the one rule": 4000–4499 and the transient standard codes mean reconnect and recover;
 * 4501/4502 mean the token must be replaced first; other 4500–4999 and the "same request would fail again"
 * standard codes mean stop until something changes. Unknown codes (1005, proxies' own) are treated as transient,
 * because giving up on a flaky network is worse than one more backed-off attempt.
 */
export function adviceForCloseCode(code: number): CloseAdvice {
  if (code === 4501 || code === 4502) return 'new-token';
  if (code >= 4000 && code <= 4499) return 'reconnect';
  if (code >= 4500 && code <= 4999) return 'stop';
  if ([1000, 1002, 1003, 1007, 1008, 1009, 1010].includes(code)) return 'stop';
  return 'reconnect';
}

export function isTokenError(code: number): boolean {
  return code === ErrorCode.invalidToken || code === ErrorCode.tokenExpired || code === ErrorCode.tokenReused;
}

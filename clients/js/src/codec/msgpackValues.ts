// The MessagePack codec's values, limits and errors, shared by its encoder and decoder (the mapping between
// JavaScript and MessagePack values is described in msgpack.ts).

export type MessagePackValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | MessagePackExtension
  | MessagePackValue[]
  | { [key: string]: MessagePackValue };

/** The deepest nesting of arrays and maps accepted (`[[1]]` has depth 2), the same limit as the server's. */
export const DEFAULT_MAX_DEPTH = 64;

/** An extension value: an application-defined type number (-128…127) and its bytes. */
export class MessagePackExtension {
  constructor(
    readonly type: number,
    readonly data: Uint8Array,
  ) {}
}

/** Input that is not valid MessagePack; `offset` is where the offending value or header starts. */
export class MessagePackError extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${reason} at byte ${offset}`);
    this.name = 'MessagePackError';
  }
}

export interface DecodeOptions {
  maxDepth?: number;
}

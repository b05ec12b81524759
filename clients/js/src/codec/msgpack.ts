// MessagePack (https://github.com/msgpack/msgpack/blob/master/spec.md) for the `switchboard.v1.msgpack` wire format,
// with no dependencies. It mirrors the server's codec (Sources/SwitchboardCore/MessagePack) and is checked against the
// same vectors from Python's msgpack (tests/msgpack_vectors).
//
// Values map as follows:
//   null <-> nil, boolean <-> bool, string <-> str, Uint8Array <-> bin, array <-> array, plain object <-> map
//   number -> int (smallest format) when it is a safe integer, else float 64 (so 1.0 and -0 are ints: JavaScript
//             cannot tell them from 1 and 0); float 32 and float 64 -> number
//   bigint -> int (smallest format) when it fits int64 or uint64; int 64 / uint 64 -> bigint when the value is outside
//             the safe integer range, else number
//   MessagePackExtension <-> ext
// encode treats undefined like JSON.stringify does (object members are left out, array elements become null) so that
// switching wire formats changes nothing, and encodes what toJSON() returns for objects that have it (Date).
// decode refuses what a hostile sender could get wrong (truncation, lengths beyond the input, nesting deeper than 64,
// invalid UTF-8, trailing bytes, non-string map keys) with a MessagePackError that says where.
// A decoded map is a plain object, so keys that look like array indices ("0", "17") come first in numeric order, just
// as JSON.parse orders them; a `__proto__` key is an ordinary member, and of duplicate keys the last wins, as there.

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

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
const MAX_LENGTH = 0xffffffff;

// Created on first use, not when the module loads: the client bundle includes this codec, and loading the bundle
// must not require TextEncoder in an environment that never speaks MessagePack.
let sharedEncoder: TextEncoder | null = null;
let sharedDecoder: TextDecoder | null = null;
const textEncoder = (): TextEncoder => (sharedEncoder ??= new TextEncoder());
// fatal: invalid UTF-8 must be refused, not silently replaced with U+FFFD.
const textDecoder = (): TextDecoder => (sharedDecoder ??= new TextDecoder('utf-8', { fatal: true }));

/** Encodes `value` (see the mapping at the top of this file); throws a TypeError or RangeError naming the bad part. */
export function encode(value: unknown, maxDepth: number = DEFAULT_MAX_DEPTH): Uint8Array {
  const encoder = new Encoder(maxDepth);
  if (value === undefined) throw new TypeError('cannot encode undefined at the top level');
  encoder.value(value, 0, '$');
  return encoder.result();
}

/** Decodes exactly one value filling all of `bytes`. Binary and extension data are copies, not views of `bytes`. */
export function decode(bytes: Uint8Array, options: DecodeOptions = {}): MessagePackValue {
  const decoder = new Decoder(bytes, options.maxDepth ?? DEFAULT_MAX_DEPTH);
  const value = decoder.value(0);
  const trailing = bytes.length - decoder.offset;
  if (trailing > 0) throw new MessagePackError(decoder.offset, `${trailing} trailing bytes after the value`);
  return value;
}

/**
 * Decodes values written back to back (a batched frame, protocol.md §4.12): each MessagePack value is self-delimiting,
 * so the frame is read value after value until it is used up.
 */
export function decodeSequence(bytes: Uint8Array, options: DecodeOptions = {}): MessagePackValue[] {
  const decoder = new Decoder(bytes, options.maxDepth ?? DEFAULT_MAX_DEPTH);
  const values: MessagePackValue[] = [];
  while (decoder.offset < bytes.length) values.push(decoder.value(0));
  return values;
}

class Encoder {
  private bytes = new Uint8Array(256);
  private view = new DataView(this.bytes.buffer);
  private length = 0;

  constructor(private readonly maxDepth: number) {}

  result(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }

  // `path` ($, $.key, $[3]) only serves error messages, so the caller can find the bad part of a large document.
  value(value: unknown, depth: number, path: string): void {
    switch (typeof value) {
      case 'boolean':
        return this.byte(value ? 0xc3 : 0xc2);
      case 'number':
        return Number.isSafeInteger(value) ? this.integer(BigInt(value), value) : this.float64(value);
      case 'bigint':
        if (value < INT64_MIN || value > UINT64_MAX) throw new RangeError(`${value} at ${path} does not fit in 64 bits`);
        return this.integer(value, Number(value));
      case 'string':
        return this.string(value);
      case 'object':
        if (value === null) return this.byte(0xc0);
        return this.object(value, depth, path);
      default:
        throw new TypeError(`cannot encode a ${typeof value} at ${path}`);
    }
  }

  private object(value: object, depth: number, path: string): void {
    if (value instanceof Uint8Array) return this.binary(value);
    if (value instanceof MessagePackExtension) return this.extension(value);
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
      throw new TypeError(`cannot encode ${value.constructor.name} at ${path}: binary data must be a Uint8Array`);
    }
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return this.value(toJSON.call(value), depth, path);
    // The limit also turns a cyclic object into a clear error instead of a stack overflow.
    if (depth >= this.maxDepth) throw new RangeError(`nesting deeper than ${this.maxDepth} at ${path}`);
    if (Array.isArray(value)) {
      this.header(value.length, 0x90, 16, 0, 0xdc, 0xdd, path);
      for (let index = 0; index < value.length; index++) {
        const element = value[index];
        this.value(element === undefined ? null : element, depth + 1, `${path}[${index}]`);
      }
      return;
    }
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      throw new TypeError(`cannot encode a ${value.constructor?.name ?? 'non-plain object'} at ${path}`);
    }
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).filter((key) => record[key] !== undefined);
    this.header(keys.length, 0x80, 16, 0, 0xde, 0xdf, path);
    for (const key of keys) {
      this.string(key);
      this.value(record[key], depth + 1, `${path}.${key}`);
    }
  }

  /** Smallest format, the way the server and Python's msgpack choose it; `small` is `value` as a number. */
  private integer(value: bigint, small: number): void {
    if (value >= 0n) {
      if (small < 0x80) return this.byte(small);
      if (small <= 0xff) return this.byteThen(0xcc, 1).setUint8(this.length - 1, small);
      if (small <= 0xffff) return this.byteThen(0xcd, 2).setUint16(this.length - 2, small);
      if (small <= 0xffffffff) return this.byteThen(0xce, 4).setUint32(this.length - 4, small);
      return this.byteThen(0xcf, 8).setBigUint64(this.length - 8, value);
    }
    if (small >= -32) return this.byte(small & 0xff);
    if (small >= -0x80) return this.byteThen(0xd0, 1).setInt8(this.length - 1, small);
    if (small >= -0x8000) return this.byteThen(0xd1, 2).setInt16(this.length - 2, small);
    if (small >= -0x80000000) return this.byteThen(0xd2, 4).setInt32(this.length - 4, small);
    this.byteThen(0xd3, 8).setBigInt64(this.length - 8, value);
  }

  private float64(value: number): void {
    this.byteThen(0xcb, 8).setFloat64(this.length - 8, value);
  }

  private string(value: string): void {
    // Lone surrogates (not valid Unicode) become U+FFFD, as the server does with lone \u escapes in JSON.
    const utf8 = textEncoder().encode(value);
    if (utf8.length < 32) {
      this.byte(0xa0 | utf8.length);
    } else {
      this.header(utf8.length, 0, 0, 0xd9, 0xda, 0xdb, 'a string');
    }
    this.raw(utf8);
  }

  private binary(value: Uint8Array): void {
    this.header(value.length, 0, 0, 0xc4, 0xc5, 0xc6, 'binary data');
    this.raw(value);
  }

  private extension(value: MessagePackExtension): void {
    if (!Number.isInteger(value.type) || value.type < -128 || value.type > 127) {
      throw new RangeError(`extension type ${value.type} is not an integer in -128…127`);
    }
    const fixed = [1, 2, 4, 8, 16].indexOf(value.data.length);
    if (fixed >= 0) {
      this.byte(0xd4 + fixed);
    } else {
      this.header(value.data.length, 0, 0, 0xc7, 0xc8, 0xc9, 'extension data');
    }
    this.byte(value.type & 0xff);
    this.raw(value.data);
  }

  /** Writes the smallest length header: fix form (when `fixLimit` > 0), then 8 (when `format8`), 16 and 32 bits. */
  private header(
    length: number,
    fixBase: number,
    fixLimit: number,
    format8: number,
    format16: number,
    format32: number,
    what: string,
  ): void {
    if (length > MAX_LENGTH) throw new RangeError(`${what} is longer than MessagePack allows (${length})`);
    if (length < fixLimit) return this.byte(fixBase | length);
    if (format8 !== 0 && length <= 0xff) return this.byteThen(format8, 1).setUint8(this.length - 1, length);
    if (length <= 0xffff) return this.byteThen(format16, 2).setUint16(this.length - 2, length);
    this.byteThen(format32, 4).setUint32(this.length - 4, length);
  }

  private byte(value: number): void {
    this.reserve(1);
    this.bytes[this.length++] = value;
  }

  /** Writes a format byte and reserves `size` bytes after it; returns the view for the caller to fill them. */
  private byteThen(format: number, size: number): DataView {
    this.reserve(1 + size);
    this.bytes[this.length] = format;
    this.length += 1 + size;
    return this.view;
  }

  private raw(data: Uint8Array): void {
    this.reserve(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  private reserve(size: number): void {
    if (this.length + size <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + size));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }
}

class Decoder {
  offset = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly maxDepth: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  // Recursion is bounded by maxDepth (64 frames by default).
  value(depth: number): MessagePackValue {
    const start = this.offset;
    const type = this.take(1, start);
    if (type <= 0x7f) return type;
    if (type >= 0xe0) return type - 0x100;
    if (type <= 0x8f) return this.map(type & 0x0f, depth, start);
    if (type <= 0x9f) return this.array(type & 0x0f, depth, start);
    if (type <= 0xbf) return this.string(type & 0x1f, start);
    switch (type) {
      case 0xc0:
        return null;
      case 0xc1:
        throw new MessagePackError(start, 'byte 0xc1 is never used in MessagePack');
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
      case 0xc5:
      case 0xc6:
        return this.slice(this.length(type - 0xc4, start), 'binary', start);
      case 0xc7:
      case 0xc8:
      case 0xc9:
        return this.extension(this.length(type - 0xc7, start), start);
      case 0xca:
        this.take(4, start);
        return this.view.getFloat32(this.offset - 4);
      case 0xcb:
        this.take(8, start);
        return this.view.getFloat64(this.offset - 8);
      case 0xcc:
        return this.take(1, start);
      case 0xcd:
        this.take(2, start);
        return this.view.getUint16(this.offset - 2);
      case 0xce:
        this.take(4, start);
        return this.view.getUint32(this.offset - 4);
      case 0xcf:
        this.take(8, start);
        return narrowed(this.view.getBigUint64(this.offset - 8));
      case 0xd0:
        this.take(1, start);
        return this.view.getInt8(this.offset - 1);
      case 0xd1:
        this.take(2, start);
        return this.view.getInt16(this.offset - 2);
      case 0xd2:
        this.take(4, start);
        return this.view.getInt32(this.offset - 4);
      case 0xd3:
        this.take(8, start);
        return narrowed(this.view.getBigInt64(this.offset - 8));
      case 0xd4:
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8:
        return this.extension(1 << (type - 0xd4), start);
      case 0xd9:
      case 0xda:
      case 0xdb:
        return this.string(this.length(type - 0xd9, start), start);
      case 0xdc:
      case 0xdd:
        return this.array(this.length(type - 0xdc + 1, start), depth, start);
      default:
        // 0xde, 0xdf
        return this.map(this.length(type - 0xde + 1, start), depth, start);
    }
  }

  private array(count: number, depth: number, start: number): MessagePackValue[] {
    // Every element takes at least one byte: a larger count can never be satisfied, so refuse it before allocating.
    const left = this.bytes.length - this.offset;
    if (count > left) throw new MessagePackError(start, `array of ${count} elements but only ${left} bytes left`);
    if (depth >= this.maxDepth) throw new MessagePackError(start, `nesting deeper than ${this.maxDepth}`);
    const elements = new Array<MessagePackValue>(count);
    for (let index = 0; index < count; index++) elements[index] = this.value(depth + 1);
    return elements;
  }

  private map(count: number, depth: number, start: number): { [key: string]: MessagePackValue } {
    const left = this.bytes.length - this.offset;
    if (count > left / 2) throw new MessagePackError(start, `map of ${count} entries but only ${left} bytes left`);
    if (depth >= this.maxDepth) throw new MessagePackError(start, `nesting deeper than ${this.maxDepth}`);
    const result: { [key: string]: MessagePackValue } = {};
    for (let index = 0; index < count; index++) {
      const keyOffset = this.offset;
      const key = this.value(depth + 1);
      if (typeof key !== 'string') throw new MessagePackError(keyOffset, 'map key is not a string');
      const value = this.value(depth + 1);
      if (key === '__proto__') {
        // A plain assignment would replace the object's prototype; JSON.parse makes it an ordinary member instead.
        Object.defineProperty(result, key, { value, enumerable: true, writable: true, configurable: true });
      } else {
        result[key] = value;
      }
    }
    return result;
  }

  private string(length: number, start: number): string {
    const contents = this.view.byteLength - this.offset >= length ? this.range(length) : this.missing(length, 'string', start);
    try {
      return textDecoder().decode(contents);
    } catch {
      throw new MessagePackError(start, 'invalid UTF-8 in string');
    }
  }

  private slice(length: number, what: string, start: number): Uint8Array {
    if (this.bytes.length - this.offset < length) this.missing(length, what, start);
    return this.range(length).slice();
  }

  private extension(length: number, start: number): MessagePackExtension {
    const type = this.take(1, start);
    const data = this.slice(length, 'extension', start);
    return new MessagePackExtension(type >= 0x80 ? type - 0x100 : type, data);
  }

  /** Reads an 8, 16 or 32-bit length (`width` 0, 1 or 2). */
  private length(width: number, start: number): number {
    const size = 1 << width;
    this.take(size, start);
    if (size === 1) return this.bytes[this.offset - 1];
    return size === 2 ? this.view.getUint16(this.offset - 2) : this.view.getUint32(this.offset - 4);
  }

  /** Consumes `size` bytes and returns the first; throws when fewer are left. */
  private take(size: number, start: number): number {
    if (this.offset + size > this.bytes.length) throw new MessagePackError(start, 'unexpected end of input');
    const first = this.bytes[this.offset];
    this.offset += size;
    return first;
  }

  private range(length: number): Uint8Array {
    const range = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return range;
  }

  private missing(length: number, what: string, start: number): never {
    const left = this.bytes.length - this.offset;
    throw new MessagePackError(start, `${what} of ${length} bytes but only ${left} bytes left`);
  }
}

/** A 64-bit integer as a number when that is exact, else as a bigint. */
function narrowed(value: bigint): number | bigint {
  const small = Number(value);
  return Number.isSafeInteger(small) ? small : value;
}

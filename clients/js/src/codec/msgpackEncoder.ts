// The MessagePack encoder: JavaScript values to bytes, per the mapping in msgpack.ts, in the smallest formats.

import { MessagePackExtension } from './msgpackValues.js';

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
const MAX_LENGTH = 0xffffffff;

// Created on first use, not when the module loads: the client bundle includes this codec, and loading the bundle
// must not require TextEncoder in an environment that never speaks MessagePack.
let sharedEncoder: TextEncoder | null = null;
const textEncoder = (): TextEncoder => (sharedEncoder ??= new TextEncoder());

export class Encoder {
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

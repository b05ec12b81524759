// The MessagePack decoder: bytes to JavaScript values, per the mapping in msgpack.ts, refusing what a hostile sender
// could get wrong with a MessagePackError that says where.

import { MessagePackError, MessagePackExtension, type MessagePackValue } from './msgpackValues.js';

// Created on first use, like the encoder's: loading the bundle must not require TextDecoder.
let sharedDecoder: TextDecoder | null = null;
// fatal: invalid UTF-8 must be refused, not silently replaced with U+FFFD.
const textDecoder = (): TextDecoder => (sharedDecoder ??= new TextDecoder('utf-8', { fatal: true }));

export class Decoder {
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

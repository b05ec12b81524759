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

import { Decoder } from './msgpackDecoder.js';
import { Encoder } from './msgpackEncoder.js';
import { DEFAULT_MAX_DEPTH, MessagePackError, type DecodeOptions, type MessagePackValue } from './msgpackValues.js';

export { DEFAULT_MAX_DEPTH, MessagePackError, MessagePackExtension, type DecodeOptions, type MessagePackValue } from './msgpackValues.js';

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

// Encoding protocol messages for the wire: JSON text (one message, or several separated by `\n` when the server
// batches frames, protocol.md §4.12) and MessagePack (protocol.md §4.10; batched values simply follow each other).
// Binary publication data (Uint8Array) is native in MessagePack; JSON carries it as `{"$binary":"<base64>"}`, the
// form the server itself uses for binary data on JSON transports, so either kind of subscriber gets the same bytes.

import { decodeSequence, encode } from './codec/msgpack.js';
import type { Command, ServerMessage } from './protocol.js';

export type WireFormat = 'json' | 'msgpack';

export const JSON_SUBPROTOCOL = 'switchboard.v1.json';
export const MSGPACK_SUBPROTOCOL = 'switchboard.v1.msgpack';

/** JSON.stringify that writes Uint8Array values as `{"$binary":"<base64>"}` instead of `{"0":…,"1":…}`. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, member) => (member instanceof Uint8Array ? { $binary: toBase64(member) } : member));
}

/** The messages of one JSON frame or SSE event. Minified JSON never contains a raw newline, so `\n` separates them. */
export function parseJsonMessages(text: string): ServerMessage[] {
  if (text.indexOf('\n') < 0) return [JSON.parse(text) as ServerMessage];
  const messages: ServerMessage[] = [];
  for (const line of text.split('\n')) if (line.length > 0) messages.push(JSON.parse(line) as ServerMessage);
  return messages;
}

export function encodeMessagePackCommand(command: Command): Uint8Array {
  return encode(command);
}

/** The messages of one binary frame: one MessagePack map, or several back to back when batched. */
export function parseMessagePackMessages(bytes: Uint8Array): ServerMessage[] {
  return decodeSequence(bytes) as unknown as ServerMessage[];
}

export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  // In slices: String.fromCharCode with a huge argument list overflows the stack.
  for (let start = 0; start < bytes.length; start += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(start, start + 0x8000));
  }
  return btoa(binary);
}

/** Decodes the base64 of a `{"$binary": …}` value (what JSON subscribers see of binary data). */
export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

/** `{"$binary":"…"}` as received on a JSON transport → its bytes; anything else → null. */
export function binaryOf(value: unknown): Uint8Array | null {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value instanceof Uint8Array ? value : null;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  return keys.length === 1 && keys[0] === '$binary' && typeof record.$binary === 'string' ? fromBase64(record.$binary) : null;
}

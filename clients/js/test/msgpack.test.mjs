// The MessagePack codec (src/codec/msgpack.ts) against Python's msgpack, the independent oracle whose encodings are in
// tests/msgpack_vectors/vectors.json, plus the hostile inputs a server or proxy could send. The test bundles the
// TypeScript itself with Debian's esbuild, so it needs no build step first.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repositoryRoot = join(here, '..', '..', '..');

async function loadCodec() {
  const outputDirectory = mkdtempSync(join(tmpdir(), 'msgpack-codec-'));
  try {
    const bundle = join(outputDirectory, 'msgpack.mjs');
    execFileSync('/usr/bin/esbuild', [
      join(here, '..', 'src', 'codec', 'msgpack.ts'),
      '--bundle',
      '--format=esm',
      '--target=es2020',
      `--outfile=${bundle}`,
      '--log-level=warning',
    ]);
    return await import(pathToFileURL(bundle).href);
  } finally {
    rmSync(outputDirectory, { recursive: true, force: true });
  }
}

const { encode, decode, MessagePackError, MessagePackExtension } = await loadCodec();
const vectors = JSON.parse(readFileSync(join(repositoryRoot, 'tests', 'msgpack_vectors', 'vectors.json'), 'utf8'));

const fromHex = (hex) => new Uint8Array(Buffer.from(hex, 'hex'));
const toHex = (bytes) => Buffer.from(bytes).toString('hex');
const INTEGER_MARKER = '\u0000integer';

/**
 * The value the codec should decode a vector's bytes to: JSON.parse, except that integer literals outside the safe
 * range but within 64 bits become bigints (JSON.parse would round them), and "-0" is the integer 0 (as in Python).
 */
function expectedValue(vector) {
  if (vector.msgpack_to_json_only) return new Uint8Array(Buffer.from(JSON.parse(vector.json).$binary, 'base64'));
  // Strings are matched first so that digits inside them are left alone.
  const marked = vector.json.replace(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g, (token) =>
    /^-?\d+$/.test(token) ? JSON.stringify({ [INTEGER_MARKER]: token }) : token,
  );
  return JSON.parse(marked, (key, value) => {
    if (value === null || typeof value !== 'object' || !(INTEGER_MARKER in value)) return value;
    const digits = value[INTEGER_MARKER];
    const exact = BigInt(digits);
    if (Number.isSafeInteger(Number(digits))) return Number(digits) + 0;
    return exact >= -(2n ** 63n) && exact < 2n ** 64n ? exact : Number(digits);
  });
}

function decodingError(bytes, options) {
  try {
    decode(Uint8Array.from(bytes), options);
  } catch (error) {
    if (error instanceof MessagePackError) return { offset: error.offset, reason: error.reason };
    throw error;
  }
  assert.fail('decoding succeeded');
}

test('the vectors file covers every 32-bit boundary', () => {
  const names = new Set(vectors.map((vector) => vector.name));
  for (const name of ['uint64 max', 'int64 min', 'str32 min 65536 bytes', 'bin32 min 65536 bytes']) {
    assert.ok(names.has(name), `missing vector ${name}`);
  }
});

for (const vector of vectors) {
  test(`decodes Python's bytes: ${vector.name}`, () => {
    assert.deepStrictEqual(decode(fromHex(vector.msgpack_hex)), expectedValue(vector));
  });

  test(`encodes like Python: ${vector.name}`, () => {
    assert.equal(toHex(encode(expectedValue(vector))), vector.js_msgpack_hex ?? vector.msgpack_hex);
  });
}

test('16-bit maxima use the 16-bit formats and round-trip', () => {
  const cases = [
    ['x'.repeat(65535), 'daffff'],
    [new Uint8Array(65535).fill(7), 'c5ffff'],
    [new Array(65535).fill(0), 'dcffff'],
    [Object.fromEntries(Array.from({ length: 65535 }, (_, index) => [`k${index}`, 0])), 'deffff'],
  ];
  for (const [value, header] of cases) {
    const bytes = encode(value);
    assert.equal(toHex(bytes.subarray(0, 3)), header);
    assert.deepStrictEqual(decode(bytes), value);
  }
});

test('undefined is treated like JSON.stringify treats it', () => {
  assert.deepStrictEqual(decode(encode({ a: undefined, b: [undefined, 1] })), { b: [null, 1] });
  assert.throws(() => encode(undefined), TypeError);
});

test('objects with toJSON are encoded as what it returns', () => {
  assert.equal(decode(encode(new Date(0))), '1970-01-01T00:00:00.000Z');
});

test('values MessagePack cannot carry are refused with their path', () => {
  assert.throws(() => encode({ a: [1, () => {}] }), { name: 'TypeError', message: 'cannot encode a function at $.a[1]' });
  assert.throws(() => encode({ a: Symbol('s') }), TypeError);
  assert.throws(() => encode(new Map()), { message: 'cannot encode a Map at $' });
  assert.throws(() => encode(new Uint16Array(2)), /must be a Uint8Array/);
  assert.throws(() => encode(2n ** 64n), { name: 'RangeError' });
  assert.throws(() => encode(-(2n ** 63n) - 1n), { name: 'RangeError' });
});

test('a cyclic object is refused instead of overflowing the stack', () => {
  const cyclic = { name: 'loop' };
  cyclic.self = cyclic;
  assert.throws(() => encode(cyclic), { name: 'RangeError', message: /^nesting deeper than 64/ });
});

test('bigints use the smallest integer format and decode as numbers when safe', () => {
  assert.equal(toHex(encode(5n)), '05');
  assert.equal(toHex(encode(-33n)), 'd0df');
  assert.equal(decode(encode(5n)), 5);
  assert.equal(decode(encode(2n ** 63n)), 2n ** 63n);
});

test('non-finite and fractional numbers are float 64', () => {
  assert.equal(toHex(encode(NaN)).slice(0, 2), 'cb');
  assert.equal(decode(encode(Infinity)), Infinity);
  assert.equal(decode(encode(-1.5)), -1.5);
  assert.equal(toHex(encode(2 ** 60)), 'cb43b0000000000000');
});

test('float 32 decodes to a number', () => {
  assert.equal(decode(fromHex('ca3fc00000')), 1.5);
});

test('extensions round-trip, using fixext when the length allows', () => {
  const extension = new MessagePackExtension(-1, new Uint8Array([1, 2, 3, 4]));
  assert.equal(toHex(encode(extension)), 'd6ff01020304');
  assert.deepStrictEqual(decode(encode(extension)), extension);
  assert.equal(toHex(encode(new MessagePackExtension(5, new Uint8Array(3)))), 'c70305000000');
});

test('a __proto__ key is an ordinary member, as with JSON.parse', () => {
  const decoded = decode(fromHex('81a95f5f70726f746f5f5f81a178a179'));
  assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
  assert.deepStrictEqual(Object.keys(decoded), ['__proto__']);
  assert.deepStrictEqual(decoded, JSON.parse('{"__proto__":{"x":"y"}}'));
});

test('decoding reads a view at any offset of a larger buffer', () => {
  const backing = new Uint8Array([0xff, 0x92, 0x01, 0xa1, 0x61, 0xff]);
  assert.deepStrictEqual(decode(backing.subarray(1, 5)), [1, 'a']);
});

test('decoded binary is a copy, not a view of the input', () => {
  const input = fromHex('c4020102');
  const decoded = decode(input);
  input[2] = 9;
  assert.deepStrictEqual(decoded, new Uint8Array([1, 2]));
});

test('empty and truncated input is refused where the cut value starts', () => {
  assert.deepStrictEqual(decodingError([]), { offset: 0, reason: 'unexpected end of input' });
  for (const bytes of [[0xcc], [0xcd, 1], [0xcf, 0, 0], [0xd3], [0xca, 0], [0xcb, 0], [0xd9], [0xdb, 0, 0], [0xc6], [0xdd], [0xdf, 0], [0xd4], [0xc7, 1]]) {
    assert.deepStrictEqual(decodingError(bytes), { offset: 0, reason: 'unexpected end of input' }, toHex(bytes));
  }
  assert.deepStrictEqual(decodingError([0x92, 0x01, 0xcd, 0x01]), { offset: 2, reason: 'unexpected end of input' });
});

test('length headers larger than the input are refused without allocating', () => {
  assert.deepStrictEqual(decodingError([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]), {
    offset: 0,
    reason: 'string of 4294967295 bytes but only 1 bytes left',
  });
  assert.equal(decodingError([0xc6, 0xff, 0xff, 0xff, 0xff]).reason, 'binary of 4294967295 bytes but only 0 bytes left');
  assert.equal(decodingError([0xc9, 0xff, 0xff, 0xff, 0xff, 1]).reason, 'extension of 4294967295 bytes but only 0 bytes left');
  assert.equal(decodingError([0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0]).reason, 'array of 4294967295 elements but only 1 bytes left');
  assert.equal(decodingError([0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0]).reason, 'map of 4294967295 entries but only 2 bytes left');
  assert.equal(decodingError([0x93, 0x01, 0x02]).reason, 'array of 3 elements but only 2 bytes left');
});

test('nesting is limited to 64 levels', () => {
  const nested = (depth) => [...new Array(depth).fill(0x91), 0xc0];
  assert.doesNotThrow(() => decode(Uint8Array.from(nested(64))));
  assert.deepStrictEqual(decodingError(nested(65)), { offset: 64, reason: 'nesting deeper than 64' });
  assert.equal(decodingError(nested(1_000_000)).reason, 'nesting deeper than 64');
  assert.equal(decodingError([0x91, 0x91, 0xc0], { maxDepth: 1 }).reason, 'nesting deeper than 1');
});

test('invalid UTF-8 in a string is refused', () => {
  for (const contents of [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80]]) {
    assert.deepStrictEqual(decodingError([0x91, 0xa0 | contents.length, ...contents]), { offset: 1, reason: 'invalid UTF-8 in string' });
  }
});

test('trailing bytes are refused', () => {
  assert.deepStrictEqual(decodingError([0x01, 0x02, 0x03]), { offset: 1, reason: '2 trailing bytes after the value' });
});

test('the never-used byte 0xc1 is refused', () => {
  assert.deepStrictEqual(decodingError([0x92, 0x01, 0xc1]), { offset: 2, reason: 'byte 0xc1 is never used in MessagePack' });
});

test('map keys that are not strings are refused', () => {
  assert.deepStrictEqual(decodingError([0x82, 0xa1, 0x61, 0x01, 0x02, 0x03]), { offset: 4, reason: 'map key is not a string' });
});

test('errors say where and why in their message', () => {
  assert.throws(() => decode(fromHex('a2ff')), { name: 'MessagePackError', message: 'string of 2 bytes but only 1 bytes left at byte 0' });
});

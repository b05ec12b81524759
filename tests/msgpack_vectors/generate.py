#!/usr/bin/env python3
"""Writes vectors.json: MessagePack encodings made by Python's `msgpack` package, the independent oracle for the Swift
codec (SwitchboardCore/MessagePack) and the TypeScript one (clients/js/src/codec/msgpack.ts).

Usage: generate.py [OUTPUT]   (default: vectors.json next to this script)

Each case is an object:
  name                  what it covers, e.g. "uint16 min 256"
  json                  the JSON text
  msgpack_hex           msgpack.packb(value, use_bin_type=True) of the value the JSON text stands for
  js_msgpack_hex        only when different: the encoding of the value as JavaScript sees it after JSON.parse, where a
                        float with an integral value (1.0, -0.0) is just a number and is encoded as an int
  msgpack_to_json_only  only on binary cases: `json` is the documented JSON form of MessagePack binary,
                        {"$binary":"<base64>"}, which JSON -> MessagePack leaves as a map

The 16-bit maxima (65535 bytes or elements) and the 32-bit array and map minima (65536 elements) are left to the
codecs' own unit tests to keep this file small; the 32-bit string and binary minima (65536 bytes) are here.

The value a JSON text stands for follows the transcoding contract: integers that fit in int64 or uint64 stay integers,
every other number is a float 64 (Python's json keeps big integers exact, so they are turned into floats here).
The test tests/cli/test_msgpack_vectors.py regenerates the file and checks it matches the committed copy.
"""

import base64
import json
import pathlib
import sys

import msgpack

INT64_MIN = -(2**63)
UINT64_MAX = 2**64 - 1
JS_MAX_SAFE_INTEGER = 2**53 - 1


def parse_int(text):
    value = int(text)
    return value if INT64_MIN <= value <= UINT64_MAX else float(text)


def load(text):
    return json.loads(text, parse_int=parse_int)


def dump(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def as_javascript_sees_it(value):
    """JSON.parse gives one number type: an integral float within the safe range is indistinguishable from an int."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= JS_MAX_SAFE_INTEGER:
        return int(value)
    if isinstance(value, list):
        return [as_javascript_sees_it(element) for element in value]
    if isinstance(value, dict):
        return {key: as_javascript_sees_it(element) for key, element in value.items()}
    return value


def pack(value):
    return msgpack.packb(value, use_bin_type=True)


def case_from_text(name, text):
    value = load(text)
    case = {"name": name, "json": text, "msgpack_hex": pack(value).hex()}
    javascript_bytes = pack(as_javascript_sees_it(value))
    if javascript_bytes != pack(value):
        case["js_msgpack_hex"] = javascript_bytes.hex()
    return case


def case_from_value(name, value):
    text = dump(value)
    assert load(text) == value or value != value, name
    return case_from_text(name, text)


def binary_case(name, data):
    text = dump({"$binary": base64.b64encode(data).decode("ascii")})
    return {"name": name, "json": text, "msgpack_hex": pack(data).hex(), "msgpack_to_json_only": True}


def nested_arrays(depth, innermost):
    value = innermost
    for _ in range(depth):
        value = [value]
    return value


def cases():
    # Map keys here never look like array indices ("0", "17"): JavaScript objects put those first in numeric order,
    # so the TypeScript codec could not reproduce Python's key order (JSON.parse reorders them the same way).
    yield case_from_value("nil", None)
    yield case_from_value("true", True)
    yield case_from_value("false", False)

    integers = [
        ("positive fixint 0", 0),
        ("positive fixint 1", 1),
        ("positive fixint max 127", 127),
        ("uint8 min 128", 128),
        ("uint8 max 255", 255),
        ("uint16 min 256", 256),
        ("uint16 max 65535", 65535),
        ("uint32 min 65536", 65536),
        ("uint32 max 4294967295", 2**32 - 1),
        ("uint64 min 4294967296", 2**32),
        ("uint64 max safe integer 2^53-1", 2**53 - 1),
        ("uint64 unsafe integer 2^53+1", 2**53 + 1),
        ("uint64 int64 max", 2**63 - 1),
        ("uint64 above int64 max", 2**63),
        ("uint64 max", UINT64_MAX),
        ("negative fixint -1", -1),
        ("negative fixint min -32", -32),
        ("int8 max -33", -33),
        ("int8 min -128", -128),
        ("int16 max -129", -129),
        ("int16 min -32768", -32768),
        ("int32 max -32769", -32769),
        ("int32 min -2147483648", -(2**31)),
        ("int64 max -2147483649", -(2**31) - 1),
        ("int64 min safe integer -(2^53-1)", -(2**53 - 1)),
        ("int64 min", INT64_MIN),
    ]
    for name, value in integers:
        yield case_from_value(name, value)
    yield case_from_text("integer above uint64 becomes float64", str(2**64))
    yield case_from_text("integer below int64 becomes float64", str(INT64_MIN - 1))
    yield case_from_text("negative zero integer is int 0", "-0")

    floats = [
        ("float64 half", "0.5"),
        ("float64 negative", "-1.5"),
        ("float64 integral 1.0", "1.0"),
        ("float64 zero", "0.0"),
        ("float64 negative zero", "-0.0"),
        ("float64 one tenth", "0.1"),
        ("float64 exponent", "1e300"),
        ("float64 capital exponent negative", "2.5E-3"),
        ("float64 exponent with plus", "1e+16"),
        ("float64 smallest subnormal", "5e-324"),
        ("float64 largest", "1.7976931348623157e308"),
        ("float64 many digits", "123456.78901234567"),
        ("float64 negative small", "-1e-7"),
        ("float64 integral above safe range", "1e20"),
    ]
    for name, text in floats:
        yield case_from_text(name, text)

    strings = [
        ("fixstr empty", ""),
        ("fixstr one byte", "a"),
        ("fixstr max 31 bytes", "x" * 31),
        ("str8 min 32 bytes", "x" * 32),
        ("str8 max 255 bytes", "x" * 255),
        ("str16 min 256 bytes", "x" * 256),
        ("str32 min 65536 bytes", "x" * 65536),
        ("str8 counts bytes not characters (16 x e-acute)", "\u00e9" * 16),
        ("unicode two-byte", "h\u00e9llo"),
        ("unicode three-byte", "\u65e5\u672c\u8a9e"),
        ("unicode four-byte emoji", "\U0001f600 grin"),
        ("control characters", "\x00\x01\x1f\x7f"),
        ("quote and backslash", 'say "hi" \\ bye'),
    ]
    for name, value in strings:
        yield case_from_value(name, value)
    yield case_from_text("escapes resolved", r'"\"\\\/\b\f\n\r\t"')
    yield case_from_text("unicode escape", r'"caf\u00e9 \u00E9"')
    yield case_from_text("surrogate pair escape", r'"\ud83d\ude00"')
    yield case_from_text("escaped nul", r'"a\u0000b"')

    binaries = [
        ("bin8 empty", b""),
        ("bin8 one byte", b"\x00"),
        ("bin8 base64 one padding", b"\x01\x02"),
        ("bin8 base64 no padding", b"\xff\xfe\xfd"),
        ("bin8 max 255 bytes", bytes(range(256))[:255]),
        ("bin16 min 256 bytes", bytes(range(256))),
        ("bin32 min 65536 bytes", bytes(i % 251 for i in range(65536))),
    ]
    for name, data in binaries:
        yield binary_case(name, data)

    arrays = [
        ("fixarray empty", []),
        ("fixarray one", [1]),
        ("fixarray max 15", list(range(15))),
        ("array16 min 16", list(range(16))),
    ]
    for name, value in arrays:
        yield case_from_value(name, value)

    maps = [
        ("fixmap empty", {}),
        ("fixmap one", {"a": 1}),
        ("fixmap max 15", {f"k{i}": i for i in range(15)}),
        ("map16 min 16", {f"k{i}": i for i in range(16)}),
    ]
    for name, value in maps:
        yield case_from_value(name, value)

    yield case_from_value(
        "nested document",
        {
            "user": {"id": 42, "name": "Ann \u00c5kesson", "tags": ["admin", "ops"], "score": 9.5, "active": True, "avatar": None},
            "messages": [{"id": -7, "text": "hi \U0001f44b", "ts": 1700000000123}, {"id": 2**40, "text": "", "ts": 0.25}],
            "empty": {"list": [], "map": {}},
        },
    )
    yield case_from_value("array of mixed values", [None, True, False, -1, 1.5, "s", [], {}, [[1, [2, [3]]]]])
    yield case_from_value("unicode keys", {"\u65e5\u672c": 1, "\U0001f600": [2], "": 3})
    yield case_from_value("nesting 64 deep", nested_arrays(64, "bottom"))
    yield case_from_value("maps nested 64 deep", json.loads("{\"a\":" * 63 + "{}" + "}" * 63))
    yield case_from_text("whitespace around and inside", ' \n{ "a" : [ 1 , 2.0 , "x y" ] ,\t"b" : null }\r\n')
    yield case_from_text("integral floats inside containers", '{"price":100.0,"history":[1.0,-0.0,2.5]}')


def write(path):
    lines = [json.dumps(case, ensure_ascii=True) for case in cases()]
    pathlib.Path(path).write_text("[\n" + ",\n".join(lines) + "\n]\n", encoding="ascii")


if __name__ == "__main__":
    write(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent / "vectors.json")

public import NIOCore

/// Converts publication data between JSON text and MessagePack, once per publication (never per subscriber).
///
/// JSON → MessagePack, value by value:
/// - `null`, `true`, `false`, strings, arrays and objects map to nil, bool, str, array and map; object members keep their
///   order, and duplicate keys are all kept (the JSON text forwarded to JSON subscribers keeps them too).
/// - A number without fraction or exponent becomes an int when it fits in Int64 or UInt64 (smallest format); any other
///   number becomes a float 64, rounded to nearest like `JSON.parse` does, so `1.0` and `1e2` stay floats and
///   `18446744073709551616` becomes 1.8446744073709552e19. A number beyond Double's range becomes ±Infinity, as
///   `JSON.parse` makes it (and the MessagePack → JSON direction then refuses it).
/// - String escapes are resolved, surrogate pairs included; a lone surrogate escape (valid JSON, but not a Unicode
///   scalar) becomes U+FFFD, exactly as ``JSONScanner/decodeString(_:)`` does.
/// - An object `{"$binary": "…"}` stays a map: JSON input never produces MessagePack binary.
///
/// MessagePack → JSON (minified, like ``JSONWriter``):
/// - nil, bool, int, uint, str and array map to their JSON forms; a map must have string keys, else it is refused.
/// - Floats are written in the shortest form that reads back to the same Double (always with a `.` or an exponent, so
///   they read back as floats); NaN and ±Infinity have no JSON form and are refused.
/// - **Binary** `bin` data becomes the object `{"$binary":"<base64>"}` (RFC 4648 standard alphabet, with `=` padding),
///   so JSON subscribers can still tell bytes from text.
/// - Extension values have no agreed JSON form and are refused.
public enum MessagePackTranscoder {
    /// The key of the one-member object that stands for MessagePack binary data in JSON.
    public static let binaryKey = "$binary"

    /// Transcodes one JSON value (whitespace around it allowed) to MessagePack.
    ///
    /// The JSON is first validated by ``JSONScanner/validateAndMinify(_:maxDepth:)``, so it is refused for exactly the
    /// reasons a JSON publication is, with the same offsets.
    public static func messagePack(
        fromJSON json: ByteBuffer, maxDepth: Int = MessagePackValue.defaultMaxDepth
    ) throws(JSONSyntaxError) -> ByteBuffer {
        let value = try MessagePackValue(parsingJSON: json, maxDepth: maxDepth)
        var writer = MessagePackWriter(capacity: json.readableBytes)
        value.write(to: &writer)
        return writer.buffer
    }

    /// Transcodes one MessagePack value (which must fill all the readable bytes) to minified JSON text.
    ///
    /// Refuses everything ``MessagePackValue/init(decoding:maxDepth:)`` refuses, plus what JSON cannot hold: non-string map
    /// keys, NaN and ±Infinity, and extension values.
    public static func json(
        fromMessagePack bytes: ByteBuffer, maxDepth: Int = MessagePackValue.defaultMaxDepth
    ) throws(MessagePackError) -> ByteBuffer {
        precondition(maxDepth >= 0, "maxDepth must not be negative")
        var reader = MessagePackReader(buffer: bytes)
        var transcoder = JSONFromMessagePack(writer: JSONWriter(capacity: bytes.readableBytes * 2), maxDepth: maxDepth)
        try transcoder.transcodeValue(from: &reader, depth: 0)
        try reader.expectEnd()
        return transcoder.writer.buffer
    }
}

/// Streams MessagePack tokens straight into JSON text: no value tree, and errors point at the offending token.
private struct JSONFromMessagePack {
    var writer: JSONWriter
    let maxDepth: Int
    /// Reused for number and base64 text so that no value needs an allocation of its own.
    var scratch = ByteBufferAllocator().buffer(capacity: 32)

    init(writer: JSONWriter, maxDepth: Int) {
        self.writer = writer
        self.maxDepth = maxDepth
    }

    /// Recursion is bounded by `maxDepth` (64 frames by default).
    mutating func transcodeValue(from reader: inout MessagePackReader, depth: Int) throws(MessagePackError) {
        let tokenOffset = reader.offset
        switch try reader.readToken() {
        case .nil: writer.null()
        case .bool(let value): writer.bool(value)
        case .int(let value): writer.int(value)
        case .uint(let value): writer.uint(value)
        case .string(let value): writer.string(value)
        case .double(let value):
            guard value.isFinite else {
                throw MessagePackError(offset: tokenOffset, reason: "\(value) has no JSON form")
            }
            // Swift's description is the shortest text that reads back to the same Double, and always has a "." or an
            // exponent ("1.0", "1e+16", "5e-324"), all valid JSON numbers.
            scratch.clear()
            scratch.writeString(value.description)
            writer.raw(scratch)
        case .binary(let data):
            writer.beginObject()
            writer.key(MessagePackTranscoder.binaryKey)
            scratch.clear()
            scratch.writeInteger(UInt8(ascii: "\""))
            Base64.encode(data, into: &scratch)
            scratch.writeInteger(UInt8(ascii: "\""))
            writer.raw(scratch)
            writer.endObject()
        case .ext(let type, _):
            throw MessagePackError(offset: tokenOffset, reason: "extension type \(type) has no JSON form")
        case .arrayHeader(let count):
            guard depth < maxDepth else { throw MessagePackError(offset: tokenOffset, reason: "nesting deeper than \(maxDepth)") }
            writer.beginArray()
            for _ in 0..<count { try transcodeValue(from: &reader, depth: depth + 1) }
            writer.endArray()
        case .mapHeader(let count):
            guard depth < maxDepth else { throw MessagePackError(offset: tokenOffset, reason: "nesting deeper than \(maxDepth)") }
            writer.beginObject()
            for _ in 0..<count {
                let keyOffset = reader.offset
                guard case .string(let key) = try reader.readToken() else {
                    throw MessagePackError(offset: keyOffset, reason: "map key is not a string, which JSON cannot hold")
                }
                writer.key(key)
                try transcodeValue(from: &reader, depth: depth + 1)
            }
            writer.endObject()
        }
    }
}

extension MessagePackValue {
    /// Parses one JSON value into the MessagePack value it transcodes to (see ``MessagePackTranscoder`` for the rules).
    public init(parsingJSON json: ByteBuffer, maxDepth: Int = MessagePackValue.defaultMaxDepth) throws(JSONSyntaxError) {
        // Validation does all the checking (and reports errors with offsets); the parse below then only has to
        // understand minified, valid JSON, whose nesting is already known to be within maxDepth.
        let minified = try JSONScanner.validateAndMinify(json, maxDepth: maxDepth)
        var parser = ValidJSONParser(json: minified)
        self = try parser.parseValue()
    }
}

/// Builds values from JSON that ``JSONScanner/validateAndMinify(_:maxDepth:)`` has accepted and minified.
///
/// It still checks bounds as it goes, so a broken promise gives an error rather than a crash.
private struct ValidJSONParser {
    let json: ByteBuffer
    let bytes: ByteBufferView
    var pos: Int

    init(json: ByteBuffer) {
        self.json = json
        self.bytes = json.readableBytesView
        self.pos = bytes.startIndex
    }

    func fail(_ reason: String) -> JSONSyntaxError {
        JSONSyntaxError(offset: pos - bytes.startIndex, reason: reason)
    }

    func peek() throws(JSONSyntaxError) -> UInt8 {
        guard pos < bytes.endIndex else { throw fail("unexpected end of input") }
        return bytes[pos]
    }

    mutating func parseValue() throws(JSONSyntaxError) -> MessagePackValue {
        switch try peek() {
        case UInt8(ascii: "{"):
            pos += 1
            var entries: [MessagePackMapEntry] = []
            if try peek() == UInt8(ascii: "}") {
                pos += 1
                return .map(entries)
            }
            while true {
                let key = try parseString()
                guard try peek() == UInt8(ascii: ":") else { throw fail("expected ':'") }
                pos += 1
                entries.append(MessagePackMapEntry(key: key, value: try parseValue()))
                if try endOfContainer(closingWith: UInt8(ascii: "}")) { break }
            }
            guard entries.count <= MessagePackWriter.maxLength else { throw fail("object has too many members for MessagePack") }
            return .map(entries)
        case UInt8(ascii: "["):
            pos += 1
            var elements: [MessagePackValue] = []
            if try peek() == UInt8(ascii: "]") {
                pos += 1
                return .array(elements)
            }
            while true {
                elements.append(try parseValue())
                if try endOfContainer(closingWith: UInt8(ascii: "]")) { break }
            }
            guard elements.count <= MessagePackWriter.maxLength else { throw fail("array has too many elements for MessagePack") }
            return .array(elements)
        case UInt8(ascii: "\""):
            return try parseString()
        case UInt8(ascii: "t"):
            pos += 4
            return .bool(true)
        case UInt8(ascii: "f"):
            pos += 5
            return .bool(false)
        case UInt8(ascii: "n"):
            pos += 4
            return .nil
        default:
            return try parseNumber()
        }
    }

    /// After an element: true (and past the closing byte) at the container's end, false (and past the comma) otherwise.
    private mutating func endOfContainer(closingWith closing: UInt8) throws(JSONSyntaxError) -> Bool {
        let byte = try peek()
        pos += 1
        if byte == closing { return true }
        guard byte == UInt8(ascii: ",") else { throw fail("expected ',' or '\(Character(Unicode.Scalar(closing)))'") }
        return false
    }

    private mutating func parseString() throws(JSONSyntaxError) -> MessagePackValue {
        let start = pos
        guard try peek() == UInt8(ascii: "\"") else { throw fail("expected a string") }
        pos += 1
        while try peek() != UInt8(ascii: "\"") {
            // Skipping the byte after a backslash is enough to step over \" (other escapes contain no quote).
            pos += bytes[pos] == UInt8(ascii: "\\") ? 2 : 1
        }
        pos += 1
        let token = json.getSlice(at: json.readerIndex + (start - bytes.startIndex), length: pos - start)!
        guard let decoded = JSONScanner.decodeString(token) else { throw fail("invalid string") }
        guard decoded.utf8.count <= MessagePackWriter.maxLength else { throw fail("string too long for MessagePack") }
        return .string(decoded)
    }

    private mutating func parseNumber() throws(JSONSyntaxError) -> MessagePackValue {
        let start = pos
        var isInteger = true
        while pos < bytes.endIndex {
            let byte = bytes[pos]
            if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                isInteger = false
            } else if !(byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)) {
                break
            }
            pos += 1
        }
        guard pos > start else { throw fail("expected a value") }
        let token = json.getSlice(at: json.readerIndex + (start - bytes.startIndex), length: pos - start)!
        if isInteger {
            if let value = JSONScanner.decodeInteger(token) { return .int(value) }
            if let value = UInt64(String(buffer: token)) { return .uint(value) }
        }
        // Double(String) rounds correctly to nearest (strtod), and gives ±Infinity beyond the range, like JSON.parse.
        guard let value = Double(String(buffer: token)) else { throw fail("invalid number") }
        return .double(value)
    }
}

/// RFC 4648 base64 with the standard alphabet and `=` padding.
enum Base64 {
    private static let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    static func encode(_ data: ByteBuffer, into out: inout ByteBuffer) {
        let digits = alphabet.utf8Start
        out.reserveCapacity(minimumWritableBytes: (data.readableBytes + 2) / 3 * 4)
        data.withUnsafeReadableBytes { input in
            var index = 0
            // Whole 3-byte groups, then the 1 or 2 bytes left with padding.
            while index + 3 <= input.count {
                let group = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
                out.writeInteger(digits[Int(group >> 18 & 0x3F)])
                out.writeInteger(digits[Int(group >> 12 & 0x3F)])
                out.writeInteger(digits[Int(group >> 6 & 0x3F)])
                out.writeInteger(digits[Int(group & 0x3F)])
                index += 3
            }
            let left = input.count - index
            guard left > 0 else { return }
            let group = UInt32(input[index]) << 16 | (left == 2 ? UInt32(input[index + 1]) << 8 : 0)
            out.writeInteger(digits[Int(group >> 18 & 0x3F)])
            out.writeInteger(digits[Int(group >> 12 & 0x3F)])
            out.writeInteger(left == 2 ? digits[Int(group >> 6 & 0x3F)] : UInt8(ascii: "="))
            out.writeInteger(UInt8(ascii: "="))
        }
    }
}

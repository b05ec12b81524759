/// Reads lib0's binary encoding (the one Yjs and y-protocols use), as `lib0/decoding.js` does, with hard limits.
///
/// Every read checks the bytes left first and throws `YjsDecodingError` instead of reading past the end; a count read
/// from the input is checked against the bytes left before anything is reserved for it.
public struct Lib0Decoder: Sendable {
    /// The largest integer a varint may hold: `Number.MAX_SAFE_INTEGER`, the largest JavaScript peers read exactly.
    public static let maxSafeInteger: UInt64 = (1 << 53) - 1
    /// How deeply lib0 `any` arrays and objects may nest. Yjs reads them recursively, so a deeper value could overflow
    /// a peer's stack; documents made by editors nest a few levels.
    public static let maxAnyDepth = 64

    public let bytes: [UInt8]
    public private(set) var position: Int

    public init(_ bytes: [UInt8], position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    /// The number of bytes not read yet.
    public var remaining: Int { bytes.count - position }

    func error(_ code: YjsDecodingError.Code) -> YjsDecodingError { YjsDecodingError(code, at: position) }

    public mutating func readUInt8() throws(YjsDecodingError) -> UInt8 {
        guard position < bytes.count else { throw error(.unexpectedEnd) }
        defer { position += 1 }
        return bytes[position]
    }

    /// An unsigned LEB128 varint of at most 8 bytes and at most 2^53 - 1.
    public mutating func readVarUInt() throws(YjsDecodingError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try readUInt8()
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { break }
            shift += 7
            // 8 bytes carry 56 bits; a ninth is never needed for a safe integer.
            guard shift < 56 else { throw error(.integerOutOfRange) }
        }
        guard value <= Self.maxSafeInteger else { throw error(.integerOutOfRange) }
        return value
    }

    /// A count of things that each take at least `minimumBytesEach` bytes: refused if the rest of the input could not
    /// hold that many, so no caller allocates by a number the input merely claims.
    public mutating func readCount(minimumBytesEach: Int = 1) throws(YjsDecodingError) -> Int {
        let count = try readVarUInt()
        guard count <= UInt64(remaining / max(minimumBytesEach, 1)) else { throw error(.countExceedsInput) }
        return Int(count)
    }

    /// lib0's signed varint (sign in bit 6 of the first byte), checked and skipped: only `any` values use it, and
    /// those are kept as the bytes they came in.
    mutating func skipVarInt() throws(YjsDecodingError) {
        var byte = try readUInt8()
        var magnitude = UInt64(byte & 0x3F)
        var shift: UInt64 = 6
        while byte >= 0x80 {
            byte = try readUInt8()
            magnitude |= UInt64(byte & 0x7F) << shift
            shift += 7
            guard shift < 62 else { throw error(.integerOutOfRange) }
        }
        guard magnitude <= Self.maxSafeInteger else { throw error(.integerOutOfRange) }
    }

    /// `count` bytes as a new array.
    public mutating func readBytes(_ count: Int) throws(YjsDecodingError) -> [UInt8] {
        guard count >= 0, count <= remaining else { throw error(.unexpectedEnd) }
        defer { position += count }
        return Array(bytes[position..<position + count])
    }

    /// A varint length, then that many bytes.
    public mutating func readVarBytes() throws(YjsDecodingError) -> [UInt8] {
        let count = try readVarUInt()
        guard count <= UInt64(remaining) else { throw error(.unexpectedEnd) }
        return try readBytes(Int(count))
    }

    /// A varint length, then that many bytes of UTF-8, returned as the bytes (checked, not decoded).
    public mutating func readVarUTF8() throws(YjsDecodingError) -> [UInt8] {
        let start = position
        let utf8 = try readVarBytes()
        guard UTF8Text.isValid(utf8) else { throw YjsDecodingError(.invalidUTF8, at: start) }
        return utf8
    }

    /// A varint length, then that many bytes of UTF-8, as a `String`.
    public mutating func readVarString() throws(YjsDecodingError) -> String {
        String(decoding: try readVarUTF8(), as: UTF8.self)
    }

    /// Checks one lib0 `any` value (`decoding.readAny`) and returns its encoding exactly as it came.
    public mutating func readAnyEncoding() throws(YjsDecodingError) -> [UInt8] {
        let start = position
        try skipAny(depth: 0)
        return Array(bytes[start..<position])
    }

    private mutating func skipAny(depth: Int) throws(YjsDecodingError) {
        let type = try readUInt8()
        switch type {
        case 127, 126, 121, 120: return  // undefined, null, false, true
        case 125: try skipVarInt()  // integer
        case 124: _ = try readBytes(4)  // float32
        case 123, 122: _ = try readBytes(8)  // float64, bigint64
        case 119: _ = try readVarUTF8()  // string
        case 118, 117:  // object, array
            guard depth < Self.maxAnyDepth else { throw error(.nestingTooDeep) }
            // An entry is at least one byte (an object's: an empty key's length byte plus a value's type byte).
            let count = try readCount(minimumBytesEach: type == 118 ? 2 : 1)
            for _ in 0..<count {
                if type == 118 { _ = try readVarUTF8() }
                try skipAny(depth: depth + 1)
            }
        case 116: _ = try readVarBytes()  // Uint8Array
        default:
            position -= 1
            throw error(.unknownAnyType)
        }
    }
}

/// UTF-8 checks and UTF-16 arithmetic on UTF-8 bytes: Yjs measures text in UTF-16 code units, the hub keeps UTF-8.
enum UTF8Text {
    static func isValid(_ bytes: [UInt8]) -> Bool {
        // Strict validation (no overlongs, no surrogates), the same rules as `String(validating:)`.
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    /// The number of UTF-16 code units in valid UTF-8: a 4-byte sequence is a surrogate pair, anything else is one.
    static func utf16Count(_ bytes: [UInt8]) -> UInt64 {
        var count: UInt64 = 0
        for byte in bytes where byte & 0xC0 != 0x80 {
            count += byte >= 0xF0 ? 2 : 1
        }
        return count
    }

    /// The UTF-8 of U+FFFD, which Yjs puts on both sides of a surrogate pair it has to split.
    static let replacementCharacter: [UInt8] = [0xEF, 0xBF, 0xBD]

    /// Splits valid UTF-8 at a UTF-16 offset as `ContentString.splice` does: when the offset falls between the two
    /// halves of a surrogate pair, each side gets U+FFFD in place of its half.
    static func split(_ bytes: [UInt8], atUTF16Offset offset: UInt64) -> (left: [UInt8], right: [UInt8]) {
        var units: UInt64 = 0
        var index = 0
        while index < bytes.count, units < offset {
            let lead = bytes[index]
            let width = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
            if width == 4 && units + 1 == offset {
                return (Array(bytes[..<index]) + replacementCharacter, replacementCharacter + Array(bytes[(index + 4)...]))
            }
            units += width == 4 ? 2 : 1
            index += width
        }
        return (Array(bytes[..<index]), Array(bytes[index...]))
    }
}

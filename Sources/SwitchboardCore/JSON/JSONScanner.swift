public import NIOCore

/// Why JSON text was refused; `offset` is the byte offset (from the start of the given buffer's readable bytes) where the problem was seen.
public struct JSONSyntaxError: Error, Equatable, CustomStringConvertible {
    public var offset: Int
    /// Short human text such as "invalid escape"; stable enough to show to clients, not meant for matching.
    public var reason: String

    public var description: String { "\(reason) at byte \(offset)" }

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }
}

/// One member of a JSON object: the decoded key and the value's raw (validated, undecoded) bytes.
public struct JSONMember: Sendable {
    public var key: String
    public var value: ByteBuffer

    public init(key: String, value: ByteBuffer) {
        self.key = key
        self.value = value
    }
}

/// What a raw JSON value is, told by its first byte.
public enum JSONValueKind: Sendable, Equatable {
    case object, array, string, number, bool, null
}

/// Strict RFC 8259 validation and shallow splitting over bytes.
///
/// The hub validates a publication once and then only forwards its bytes, so nothing here builds a value tree:
/// values stay slices of the input, and only object keys and explicitly requested tokens are decoded.
public enum JSONScanner {
    /// Validates that `bytes` holds exactly one JSON value and returns it without insignificant whitespace.
    ///
    /// Any top-level value is accepted, with whitespace around it. When there is no whitespace to drop inside the value,
    /// the result is a slice of the input (no copy). Lone surrogate `\u` escapes are accepted, as `JSON.parse` accepts them.
    /// - Parameters:
    ///   - bytes: the JSON text; its readable bytes are scanned, the buffer itself is not consumed.
    ///   - maxDepth: the deepest nesting of arrays and objects accepted (`[[1]]` has depth 2). The scan itself is iterative
    ///     and never recurses; the limit protects subscribers whose parsers do.
    public static func validateAndMinify(_ bytes: ByteBuffer, maxDepth: Int = 64) throws(JSONSyntaxError) -> ByteBuffer {
        precondition(maxDepth >= 0, "maxDepth must not be negative")
        let outcome = bytes.withUnsafeReadableBytes { raw -> Result<MinifyOutcome, JSONSyntaxError> in
            withDepthStack(maxDepth: maxDepth, byteCount: raw.count) { stack in
                Result { () throws(JSONSyntaxError) -> MinifyOutcome in
                    var cursor = JSONCursor(bytes: raw, depthStack: stack, maxDepth: maxDepth)
                    cursor.skipWhitespace()
                    let start = cursor.pos
                    cursor.copiedUpTo = start
                    cursor.minifying = true
                    try cursor.scanValue()
                    let end = cursor.pos
                    cursor.minifying = false
                    cursor.skipWhitespace()
                    guard cursor.pos == raw.count else { throw cursor.fail("trailing characters after the value") }
                    guard let minified = cursor.finishMinified(end: end) else { return .slice(start: start, end: end) }
                    return .copy(minified)
                }
            }
        }
        switch try outcome.get() {
        case .slice(let start, let end):
            // Cannot fail: the range lies inside the readable bytes just scanned.
            return bytes.getSlice(at: bytes.readerIndex + start, length: end - start)!
        case .copy(let minified):
            return minified
        }
    }

    /// Splits a top-level JSON object into its members, in order, without decoding the values.
    ///
    /// Keys are decoded (escapes resolved; a lone surrogate escape becomes U+FFFD). Values are slices of the input,
    /// trimmed of surrounding whitespace but keeping their own, and fully validated like `validateAndMinify`.
    /// Duplicate keys are all kept, so the caller decides whether they are an error.
    /// - Parameters:
    ///   - bytes: the JSON text, which must be a single object (whitespace around it allowed).
    ///   - maxDepth: the deepest nesting accepted, counting the top-level object as depth 1.
    public static func objectMembers(_ bytes: ByteBuffer, maxDepth: Int = 64) throws(JSONSyntaxError) -> [JSONMember] {
        precondition(maxDepth >= 0, "maxDepth must not be negative")
        let outcome = bytes.withUnsafeReadableBytes { raw -> Result<[JSONMember], JSONSyntaxError> in
            withDepthStack(maxDepth: maxDepth, byteCount: raw.count) { stack in
                Result { () throws(JSONSyntaxError) -> [JSONMember] in
                    var cursor = JSONCursor(bytes: raw, depthStack: stack, maxDepth: maxDepth)
                    var members: [JSONMember] = []
                    cursor.skipWhitespace()
                    guard cursor.pos < raw.count else { throw cursor.fail("unexpected end of input") }
                    guard raw[cursor.pos] == .openBrace else { throw cursor.fail("expected an object") }
                    try cursor.push(isObject: true)
                    cursor.pos += 1
                    cursor.skipWhitespace()
                    if cursor.pos < raw.count && raw[cursor.pos] == .closeBrace {
                        cursor.pos += 1
                    } else {
                        var afterComma = false
                        while true {
                            let key = try cursor.scanKeyAndColon(afterComma: afterComma, decode: true)
                            cursor.skipWhitespace()
                            let valueStart = cursor.pos
                            try cursor.scanValue()
                            let value = bytes.getSlice(at: bytes.readerIndex + valueStart, length: cursor.pos - valueStart)!
                            members.append(JSONMember(key: key ?? "", value: value))
                            cursor.skipWhitespace()
                            guard cursor.pos < raw.count else { throw cursor.fail("unexpected end of input") }
                            let byte = raw[cursor.pos]
                            cursor.pos += 1
                            if byte == .closeBrace { break }
                            guard byte == .comma else { throw cursor.fail("expected ',' or '}'", at: cursor.pos - 1) }
                            cursor.skipWhitespace()
                            afterComma = true
                        }
                    }
                    cursor.skipWhitespace()
                    guard cursor.pos == raw.count else { throw cursor.fail("trailing characters after the value") }
                    return members
                }
            }
        }
        return try outcome.get()
    }

    /// Splits a top-level JSON array into its elements, in order, as validated raw slices (like ``objectMembers(_:maxDepth:)``).
    public static func arrayElements(_ bytes: ByteBuffer, maxDepth: Int = 64) throws(JSONSyntaxError) -> [ByteBuffer] {
        precondition(maxDepth >= 0, "maxDepth must not be negative")
        let outcome = bytes.withUnsafeReadableBytes { raw -> Result<[ByteBuffer], JSONSyntaxError> in
            withDepthStack(maxDepth: maxDepth, byteCount: raw.count) { stack in
                Result { () throws(JSONSyntaxError) -> [ByteBuffer] in
                    var cursor = JSONCursor(bytes: raw, depthStack: stack, maxDepth: maxDepth)
                    var elements: [ByteBuffer] = []
                    cursor.skipWhitespace()
                    guard cursor.pos < raw.count else { throw cursor.fail("unexpected end of input") }
                    guard raw[cursor.pos] == .openBracket else { throw cursor.fail("expected an array") }
                    try cursor.push(isObject: false)
                    cursor.pos += 1
                    cursor.skipWhitespace()
                    if cursor.pos < raw.count && raw[cursor.pos] == .closeBracket {
                        cursor.pos += 1
                    } else {
                        while true {
                            cursor.skipWhitespace()
                            let start = cursor.pos
                            try cursor.scanValue()
                            elements.append(bytes.getSlice(at: bytes.readerIndex + start, length: cursor.pos - start)!)
                            cursor.skipWhitespace()
                            guard cursor.pos < raw.count else { throw cursor.fail("unexpected end of input") }
                            let byte = raw[cursor.pos]
                            cursor.pos += 1
                            if byte == .closeBracket { break }
                            guard byte == .comma else { throw cursor.fail("expected ',' or ']'", at: cursor.pos - 1) }
                        }
                    }
                    cursor.skipWhitespace()
                    guard cursor.pos == raw.count else { throw cursor.fail("trailing characters after the value") }
                    return elements
                }
            }
        }
        return try outcome.get()
    }

    /// Decodes a raw JSON string token (including its quotes) to a Swift String; nil if `raw` is not a valid JSON string token.
    ///
    /// A lone surrogate escape (valid JSON, but not representable in a Swift String) decodes to U+FFFD.
    public static func decodeString(_ raw: ByteBuffer) -> String? {
        raw.withUnsafeReadableBytes { bytes -> String? in
            guard bytes.count >= 2, bytes[0] == .quote else { return nil }
            var cursor = JSONCursor(bytes: bytes, depthStack: UnsafeMutableBufferPointer(start: nil, count: 0), maxDepth: 0)
            guard let hasEscapes = try? cursor.scanString(), cursor.pos == bytes.count else { return nil }
            return decodeStringContents(UnsafeRawBufferPointer(rebasing: bytes[1..<(bytes.count - 1)]), hasEscapes: hasEscapes)
        }
    }

    /// Decodes a raw JSON number token that is an integer (no fraction, no exponent) fitting in Int64; nil otherwise.
    public static func decodeInteger(_ raw: ByteBuffer) -> Int64? {
        raw.withUnsafeReadableBytes { bytes -> Int64? in
            let negative = bytes.first == .minus
            var index = negative ? 1 : 0
            guard index < bytes.count else { return nil }
            if bytes[index] == .digitZero { return index + 1 == bytes.count ? 0 : nil }
            var value: Int64 = 0
            while index < bytes.count {
                let byte = bytes[index]
                guard byte.isDigit else { return nil }
                let digit = Int64(byte &- .digitZero)
                // Accumulating towards the sign lets Int64.min parse without a special case.
                let (shifted, overflowA) = value.multipliedReportingOverflow(by: 10)
                let (next, overflowB) =
                    negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
                guard !overflowA, !overflowB else { return nil }
                value = next
                index += 1
            }
            return value
        }
    }

    /// Kind of a raw JSON value by its first byte; nil for an empty buffer or a byte no JSON value starts with.
    public static func kind(of raw: ByteBuffer) -> JSONValueKind? {
        guard let first = raw.readableBytesView.first else { return nil }
        switch first {
        case .openBrace: return .object
        case .openBracket: return .array
        case .quote: return .string
        case .minus, .digitZero...UInt8(ascii: "9"): return .number
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        default: return nil
        }
    }

    private enum MinifyOutcome {
        case slice(start: Int, end: Int)
        case copy(ByteBuffer)
    }

    /// Runs `body` with room for one container flag per nesting level, on the stack when small.
    private static func withDepthStack<R>(maxDepth: Int, byteCount: Int, _ body: (UnsafeMutableBufferPointer<Bool>) -> R) -> R {
        // Every level needs an opening byte, so the input length also bounds the depth; this keeps a huge maxDepth cheap.
        let capacity = max(1, min(maxDepth, byteCount))
        return withUnsafeTemporaryAllocation(of: Bool.self, capacity: capacity) { body($0) }
    }

    /// Decodes the bytes between a string token's quotes, which must already be validated.
    fileprivate static func decodeStringContents(_ contents: UnsafeRawBufferPointer, hasEscapes: Bool) -> String {
        guard hasEscapes else { return String(decoding: contents, as: UTF8.self) }
        // Every escape is at least as long as the UTF-8 it stands for, so the input length is enough room.
        return String(unsafeUninitializedCapacity: contents.count) { out in
            var read = 0
            var written = 0
            while read < contents.count {
                let byte = contents[read]
                guard byte == .backslash else {
                    out[written] = byte
                    written += 1
                    read += 1
                    continue
                }
                let escape = contents[read + 1]
                read += 2
                switch escape {
                case UInt8(ascii: "b"): out[written] = 0x08
                case UInt8(ascii: "f"): out[written] = 0x0C
                case UInt8(ascii: "n"): out[written] = 0x0A
                case UInt8(ascii: "r"): out[written] = 0x0D
                case UInt8(ascii: "t"): out[written] = 0x09
                case UInt8(ascii: "u"):
                    var scalar = hexQuad(contents, at: read)
                    read += 4
                    if (0xD800...0xDBFF).contains(scalar), read + 6 <= contents.count, contents[read] == .backslash,
                        contents[read + 1] == UInt8(ascii: "u")
                    {
                        let low = hexQuad(contents, at: read + 2)
                        if (0xDC00...0xDFFF).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            read += 6
                        }
                    }
                    if (0xD800...0xDFFF).contains(scalar) { scalar = 0xFFFD }
                    written += encodeUTF8(scalar, into: out, at: written)
                    continue
                default: out[written] = escape  // \" \\ \/
                }
                written += 1
            }
            return written
        }
    }

    private static func hexQuad(_ bytes: UnsafeRawBufferPointer, at index: Int) -> UInt32 {
        var value: UInt32 = 0
        for offset in 0..<4 { value = value << 4 | UInt32(bytes[index + offset].hexValue!) }
        return value
    }

    private static func encodeUTF8(_ scalar: UInt32, into out: UnsafeMutableBufferPointer<UInt8>, at index: Int) -> Int {
        switch scalar {
        case 0..<0x80:
            out[index] = UInt8(scalar)
            return 1
        case 0x80..<0x800:
            out[index] = UInt8(0xC0 | scalar >> 6)
            out[index + 1] = UInt8(0x80 | scalar & 0x3F)
            return 2
        case 0x800..<0x10000:
            out[index] = UInt8(0xE0 | scalar >> 12)
            out[index + 1] = UInt8(0x80 | scalar >> 6 & 0x3F)
            out[index + 2] = UInt8(0x80 | scalar & 0x3F)
            return 3
        default:
            out[index] = UInt8(0xF0 | scalar >> 18)
            out[index + 1] = UInt8(0x80 | scalar >> 12 & 0x3F)
            out[index + 2] = UInt8(0x80 | scalar >> 6 & 0x3F)
            out[index + 3] = UInt8(0x80 | scalar & 0x3F)
            return 4
        }
    }
}

/// A single forward pass over JSON bytes; it only lives inside `withUnsafeReadableBytes`.
///
/// Nesting is tracked with an explicit stack instead of recursion so that no input can exhaust the thread's stack.
private struct JSONCursor {
    let bytes: UnsafeRawBufferPointer
    var pos = 0
    /// One flag per open container (true for an object) to know which closing byte and separator rules apply.
    let depthStack: UnsafeMutableBufferPointer<Bool>
    var depth = 0
    let maxDepth: Int
    /// While set, interior whitespace runs are cut out into `minified`, which is created only at the first one.
    var minifying = false
    var minified: ByteBuffer?
    var copiedUpTo = 0

    init(bytes: UnsafeRawBufferPointer, depthStack: UnsafeMutableBufferPointer<Bool>, maxDepth: Int) {
        self.bytes = bytes
        self.depthStack = depthStack
        self.maxDepth = maxDepth
    }

    func fail(_ reason: String, at offset: Int? = nil) -> JSONSyntaxError {
        JSONSyntaxError(offset: offset ?? pos, reason: reason)
    }

    @inline(__always)
    mutating func skipWhitespace() {
        guard pos < bytes.count, bytes[pos].isJSONWhitespace else { return }
        let start = pos
        repeat { pos += 1 } while pos < bytes.count && bytes[pos].isJSONWhitespace
        if minifying { cutWhitespace(from: start) }
    }

    /// Appends the kept bytes after the last cut; nil when nothing was ever cut, so the input can be sliced instead.
    mutating func finishMinified(end: Int) -> ByteBuffer? {
        guard var out = minified else { return nil }
        // Release our reference first so the append below does not copy the whole buffer.
        minified = nil
        out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[copiedUpTo..<end]))
        return out
    }

    /// Copies everything kept since the previous cut and skips the run `start..<pos`; bulk copies, not byte by byte.
    private mutating func cutWhitespace(from start: Int) {
        if minified == nil { minified = ByteBufferAllocator().buffer(capacity: bytes.count) }
        minified!.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[copiedUpTo..<start]))
        copiedUpTo = pos
    }

    mutating func push(isObject: Bool) throws(JSONSyntaxError) {
        guard depth < maxDepth else { throw fail("nesting deeper than \(maxDepth)") }
        depthStack[depth] = isObject
        depth += 1
    }

    /// Scans one complete value starting at `pos` (no leading whitespace), leaving `pos` just after it.
    mutating func scanValue() throws(JSONSyntaxError) {
        let baseDepth = depth
        var afterComma = false
        values: while true {
            let trailingComma = afterComma
            afterComma = false
            skipWhitespace()
            guard pos < bytes.count else { throw fail("unexpected end of input") }
            switch bytes[pos] {
            case .openBrace:
                try push(isObject: true)
                pos += 1
                skipWhitespace()
                if pos < bytes.count && bytes[pos] == .closeBrace {
                    pos += 1
                    depth -= 1
                } else {
                    _ = try scanKeyAndColon(afterComma: false, decode: false)
                    continue values
                }
            case .openBracket:
                try push(isObject: false)
                pos += 1
                skipWhitespace()
                if pos < bytes.count && bytes[pos] == .closeBracket {
                    pos += 1
                    depth -= 1
                } else {
                    continue values
                }
            case .quote: _ = try scanString()
            case .minus, .digitZero...UInt8(ascii: "9"): try scanNumber()
            case UInt8(ascii: "t"): try scanLiteral("true")
            case UInt8(ascii: "f"): try scanLiteral("false")
            case UInt8(ascii: "n"): try scanLiteral("null")
            case .closeBracket where trailingComma: throw fail("trailing comma")
            default: throw fail("expected a value")
            }
            // A value just ended: close the containers it completes, or move on to the next element.
            while depth > baseDepth {
                skipWhitespace()
                guard pos < bytes.count else { throw fail("unexpected end of input") }
                let byte = bytes[pos]
                if depthStack[depth - 1] {
                    if byte == .comma {
                        pos += 1
                        skipWhitespace()
                        _ = try scanKeyAndColon(afterComma: true, decode: false)
                        continue values
                    }
                    guard byte == .closeBrace else { throw fail("expected ',' or '}'") }
                } else {
                    if byte == .comma {
                        pos += 1
                        afterComma = true
                        continue values
                    }
                    guard byte == .closeBracket else { throw fail("expected ',' or ']'") }
                }
                pos += 1
                depth -= 1
            }
            return
        }
    }

    /// Scans `"key" :` and any whitespace before the colon; returns the decoded key when asked.
    mutating func scanKeyAndColon(afterComma: Bool, decode: Bool) throws(JSONSyntaxError) -> String? {
        guard pos < bytes.count else { throw fail("unexpected end of input") }
        guard bytes[pos] == .quote else {
            throw fail(afterComma && bytes[pos] == .closeBrace ? "trailing comma" : "expected a string key")
        }
        let keyStart = pos
        let hasEscapes = try scanString()
        let key =
            decode
            ? JSONScanner.decodeStringContents(UnsafeRawBufferPointer(rebasing: bytes[(keyStart + 1)..<(pos - 1)]), hasEscapes: hasEscapes)
            : nil
        skipWhitespace()
        guard pos < bytes.count else { throw fail("unexpected end of input") }
        guard bytes[pos] == .colon else { throw fail("expected ':'") }
        pos += 1
        return key
    }

    /// Scans a string token starting at its opening quote; returns whether it contains escapes.
    mutating func scanString() throws(JSONSyntaxError) -> Bool {
        pos += 1
        var hasEscapes = false
        while true {
            // Plain printable ASCII is the common case; everything else leaves this loop.
            while pos < bytes.count {
                let byte = bytes[pos]
                guard byte >= 0x20, byte < 0x80, byte != .quote, byte != .backslash else { break }
                pos += 1
            }
            guard pos < bytes.count else { throw fail("unexpected end of input") }
            switch bytes[pos] {
            case .quote:
                pos += 1
                return hasEscapes
            case .backslash:
                hasEscapes = true
                try scanEscape()
            case 0x80...:
                try scanMultibyteScalar()
            default:
                throw fail("control character in string")
            }
        }
    }

    private mutating func scanEscape() throws(JSONSyntaxError) {
        let start = pos
        guard pos + 1 < bytes.count else { throw fail("unexpected end of input", at: bytes.count) }
        switch bytes[pos + 1] {
        case .quote, .backslash, UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"),
            UInt8(ascii: "t"):
            pos += 2
        case UInt8(ascii: "u"):
            pos += 2
            for _ in 0..<4 {
                guard pos < bytes.count else { throw fail("unexpected end of input") }
                guard bytes[pos].hexValue != nil else { throw fail("invalid escape", at: start) }
                pos += 1
            }
        default:
            throw fail("invalid escape", at: start)
        }
    }

    /// Checks one multi-byte UTF-8 sequence per RFC 3629 §4, which rules out overlongs, encoded surrogates and > U+10FFFF.
    private mutating func scanMultibyteScalar() throws(JSONSyntaxError) {
        let lead = bytes[pos]
        let continuationCount: Int
        // The second byte's range is what excludes the overlong, surrogate and out-of-range forms.
        var secondLow: UInt8 = 0x80
        var secondHigh: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF:
            continuationCount = 1
        case 0xE0:
            continuationCount = 2
            secondLow = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF:
            continuationCount = 2
        case 0xED:
            continuationCount = 2
            secondHigh = 0x9F
        case 0xF0:
            continuationCount = 3
            secondLow = 0x90
        case 0xF1...0xF3:
            continuationCount = 3
        case 0xF4:
            continuationCount = 3
            secondHigh = 0x8F
        default:
            throw fail("invalid UTF-8")
        }
        for index in 1...continuationCount {
            guard pos + index < bytes.count else { throw fail("unexpected end of input", at: bytes.count) }
            let byte = bytes[pos + index]
            let valid = index == 1 ? (secondLow...secondHigh).contains(byte) : (0x80...0xBF).contains(byte)
            guard valid else { throw fail("invalid UTF-8") }
        }
        pos += continuationCount + 1
    }

    private mutating func scanNumber() throws(JSONSyntaxError) {
        if bytes[pos] == .minus { pos += 1 }
        guard pos < bytes.count else { throw fail("unexpected end of input") }
        if bytes[pos] == .digitZero {
            pos += 1
            if pos < bytes.count && bytes[pos].isDigit { throw fail("leading zero in number", at: pos - 1) }
        } else {
            try scanDigits()
        }
        if pos < bytes.count && bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            try scanDigits()
        }
        if pos < bytes.count && (bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E")) {
            pos += 1
            if pos < bytes.count && (bytes[pos] == UInt8(ascii: "+") || bytes[pos] == .minus) { pos += 1 }
            try scanDigits()
        }
    }

    /// Scans one or more digits.
    private mutating func scanDigits() throws(JSONSyntaxError) {
        guard pos < bytes.count else { throw fail("unexpected end of input") }
        guard bytes[pos].isDigit else { throw fail("invalid number") }
        repeat { pos += 1 } while pos < bytes.count && bytes[pos].isDigit
    }

    private mutating func scanLiteral(_ word: StaticString) throws(JSONSyntaxError) {
        let letters = word.utf8Start
        for index in 0..<word.utf8CodeUnitCount {
            guard pos + index < bytes.count else { throw fail("unexpected end of input", at: bytes.count) }
            guard bytes[pos + index] == letters[index] else { throw fail("invalid literal") }
        }
        pos += word.utf8CodeUnitCount
    }
}

extension UInt8 {
    fileprivate static var quote: UInt8 { UInt8(ascii: "\"") }
    fileprivate static var backslash: UInt8 { UInt8(ascii: "\\") }
    fileprivate static var openBrace: UInt8 { UInt8(ascii: "{") }
    fileprivate static var closeBrace: UInt8 { UInt8(ascii: "}") }
    fileprivate static var openBracket: UInt8 { UInt8(ascii: "[") }
    fileprivate static var closeBracket: UInt8 { UInt8(ascii: "]") }
    fileprivate static var comma: UInt8 { UInt8(ascii: ",") }
    fileprivate static var colon: UInt8 { UInt8(ascii: ":") }
    fileprivate static var minus: UInt8 { UInt8(ascii: "-") }
    fileprivate static var digitZero: UInt8 { UInt8(ascii: "0") }

    fileprivate var isDigit: Bool { self &- .digitZero < 10 }

    fileprivate var isJSONWhitespace: Bool { self == 0x20 || self == 0x0A || self == 0x0D || self == 0x09 }

    fileprivate var hexValue: UInt8? {
        switch self {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return self &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return self &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return self &- UInt8(ascii: "A") &+ 10
        default: return nil
        }
    }
}

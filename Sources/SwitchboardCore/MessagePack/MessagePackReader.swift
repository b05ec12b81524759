public import NIOCore

/// Why MessagePack bytes were refused; `offset` is the byte offset (from the start of the given buffer's readable bytes)
/// of the value or header where the problem was seen.
public struct MessagePackError: Error, Equatable, CustomStringConvertible {
    public var offset: Int
    /// Short human text such as "invalid UTF-8 in string"; stable enough to show to clients, not meant for matching.
    public var reason: String

    public var description: String { "\(reason) at byte \(offset)" }

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }
}

/// One item of a MessagePack stream: a complete scalar, or the header of a container whose elements follow it.
public enum MessagePackToken: Sendable, Equatable {
    case `nil`
    case bool(Bool)
    /// Every integer that fits in Int64, whichever format carried it.
    case int(Int64)
    /// Only integers above `Int64.max`.
    case uint(UInt64)
    /// A float 64, or a float 32 widened (exactly) to Double.
    case double(Double)
    case string(String)
    /// A slice of the input (no copy).
    case binary(ByteBuffer)
    /// `count` values follow.
    case arrayHeader(count: Int)
    /// `count` key-value pairs (2 × `count` values) follow.
    case mapHeader(count: Int)
    /// An extension value; `data` is a slice of the input.
    case ext(type: Int8, data: ByteBuffer)
}

/// Reads MessagePack one token at a time from a ByteBuffer, checking everything a hostile sender could get wrong.
///
/// Lengths are checked against the bytes actually left before anything is sliced or allocated, so a 4 GiB length
/// header in a 10-byte message is an error, not an allocation. Container headers are checked the same way (every
/// element takes at least one byte), which bounds any array a consumer reserves from `count`. Nesting is the
/// consumer's to limit, since only it knows where containers end; ``MessagePackValue/init(decoding:maxDepth:)`` does.
public struct MessagePackReader {
    /// The bytes being read; its reader index advances as tokens are read.
    public private(set) var buffer: ByteBuffer
    private let startIndex: Int

    public init(buffer: ByteBuffer) {
        self.buffer = buffer
        self.startIndex = buffer.readerIndex
    }

    /// Bytes consumed so far, which is also the offset of the next token.
    public var offset: Int { buffer.readerIndex - startIndex }

    public var isAtEnd: Bool { buffer.readableBytes == 0 }

    /// An error at the current offset (the start of the next token).
    public func error(_ reason: String) -> MessagePackError {
        MessagePackError(offset: offset, reason: reason)
    }

    /// Reads the next token; on error nothing is consumed, so `offset` still points at the offending token.
    public mutating func readToken() throws(MessagePackError) -> MessagePackToken {
        var cursor = buffer
        let token = try Self.readToken(from: &cursor, offset: offset)
        buffer = cursor
        return token
    }

    /// Checks that every byte was consumed, for a top-level value that must fill the whole message.
    public func expectEnd() throws(MessagePackError) {
        guard isAtEnd else { throw error("\(buffer.readableBytes) trailing bytes after the value") }
    }

    private static func readToken(from bytes: inout ByteBuffer, offset: Int) throws(MessagePackError) -> MessagePackToken {
        func fail(_ reason: String) -> MessagePackError { MessagePackError(offset: offset, reason: reason) }
        func truncated() -> MessagePackError { fail("unexpected end of input") }

        guard let type = bytes.readInteger(as: UInt8.self) else { throw truncated() }
        switch type {
        case 0x00...0x7F: return .int(Int64(type))
        case 0x80...0x8F: return try mapHeader(count: Int(type & 0x0F), in: bytes, fail: fail)
        case 0x90...0x9F: return try arrayHeader(count: Int(type & 0x0F), in: bytes, fail: fail)
        case 0xA0...0xBF: return try string(length: Int(type & 0x1F), from: &bytes, fail: fail)
        case 0xC0: return .nil
        case 0xC1: throw fail("byte 0xc1 is never used in MessagePack")
        case 0xC2: return .bool(false)
        case 0xC3: return .bool(true)
        case 0xC4, 0xC5, 0xC6:
            let length = try readLength(width: type - 0xC4, from: &bytes, fail: fail)
            return .binary(try slice(length, from: &bytes, what: "binary", fail: fail))
        case 0xC7, 0xC8, 0xC9:
            let length = try readLength(width: type - 0xC7, from: &bytes, fail: fail)
            return try ext(length: length, from: &bytes, fail: fail)
        case 0xCA:
            guard let bits = bytes.readInteger(as: UInt32.self) else { throw truncated() }
            return .double(Double(Float(bitPattern: bits)))
        case 0xCB:
            guard let bits = bytes.readInteger(as: UInt64.self) else { throw truncated() }
            return .double(Double(bitPattern: bits))
        case 0xCC:
            guard let value = bytes.readInteger(as: UInt8.self) else { throw truncated() }
            return .int(Int64(value))
        case 0xCD:
            guard let value = bytes.readInteger(as: UInt16.self) else { throw truncated() }
            return .int(Int64(value))
        case 0xCE:
            guard let value = bytes.readInteger(as: UInt32.self) else { throw truncated() }
            return .int(Int64(value))
        case 0xCF:
            guard let value = bytes.readInteger(as: UInt64.self) else { throw truncated() }
            return value <= UInt64(Int64.max) ? .int(Int64(value)) : .uint(value)
        case 0xD0:
            guard let value = bytes.readInteger(as: Int8.self) else { throw truncated() }
            return .int(Int64(value))
        case 0xD1:
            guard let value = bytes.readInteger(as: Int16.self) else { throw truncated() }
            return .int(Int64(value))
        case 0xD2:
            guard let value = bytes.readInteger(as: Int32.self) else { throw truncated() }
            return .int(Int64(value))
        case 0xD3:
            guard let value = bytes.readInteger(as: Int64.self) else { throw truncated() }
            return .int(value)
        case 0xD4...0xD8:
            // fixext 1, 2, 4, 8, 16
            return try ext(length: 1 << Int(type - 0xD4), from: &bytes, fail: fail)
        case 0xD9, 0xDA, 0xDB:
            let length = try readLength(width: type - 0xD9, from: &bytes, fail: fail)
            return try string(length: length, from: &bytes, fail: fail)
        case 0xDC, 0xDD:
            let count = try readLength(width: type - 0xDC + 1, from: &bytes, fail: fail)
            return try arrayHeader(count: count, in: bytes, fail: fail)
        case 0xDE, 0xDF:
            let count = try readLength(width: type - 0xDE + 1, from: &bytes, fail: fail)
            return try mapHeader(count: count, in: bytes, fail: fail)
        default:
            // 0xE0...0xFF, negative fixint: the byte is the value in two's complement.
            return .int(Int64(Int8(bitPattern: type)))
        }
    }

    /// Reads an 8, 16 or 32-bit big-endian length (`width` 0, 1 or 2).
    private static func readLength(
        width: UInt8, from bytes: inout ByteBuffer, fail: (String) -> MessagePackError
    ) throws(MessagePackError) -> Int {
        let length: Int?
        switch width {
        case 0: length = bytes.readInteger(as: UInt8.self).map(Int.init)
        case 1: length = bytes.readInteger(as: UInt16.self).map(Int.init)
        default: length = bytes.readInteger(as: UInt32.self).map(Int.init)
        }
        guard let length else { throw fail("unexpected end of input") }
        return length
    }

    private static func slice(
        _ length: Int, from bytes: inout ByteBuffer, what: String, fail: (String) -> MessagePackError
    ) throws(MessagePackError) -> ByteBuffer {
        guard length <= bytes.readableBytes else {
            throw fail("\(what) of \(length) bytes but only \(bytes.readableBytes) bytes left")
        }
        return bytes.readSlice(length: length)!
    }

    private static func string(
        length: Int, from bytes: inout ByteBuffer, fail: (String) -> MessagePackError
    ) throws(MessagePackError) -> MessagePackToken {
        let contents = try slice(length, from: &bytes, what: "string", fail: fail)
        // String(validating:) would do this in one pass but needs macOS 15; the package still supports macOS 14.
        guard UTF8Validation.isValid(contents.readableBytesView) else { throw fail("invalid UTF-8 in string") }
        return .string(String(buffer: contents))
    }

    private static func ext(
        length: Int, from bytes: inout ByteBuffer, fail: (String) -> MessagePackError
    ) throws(MessagePackError) -> MessagePackToken {
        guard let type = bytes.readInteger(as: Int8.self) else { throw fail("unexpected end of input") }
        return .ext(type: type, data: try slice(length, from: &bytes, what: "extension", fail: fail))
    }

    private static func arrayHeader(
        count: Int, in bytes: ByteBuffer, fail: (String) -> MessagePackError
    ) throws(MessagePackError) -> MessagePackToken {
        // Each element takes at least one byte: a larger count can never be satisfied, so refuse it up front.
        guard count <= bytes.readableBytes else {
            throw fail("array of \(count) elements but only \(bytes.readableBytes) bytes left")
        }
        return .arrayHeader(count: count)
    }

    private static func mapHeader(
        count: Int, in bytes: ByteBuffer, fail: (String) -> MessagePackError
    ) throws(MessagePackError) -> MessagePackToken {
        guard count <= bytes.readableBytes / 2 else {
            throw fail("map of \(count) entries but only \(bytes.readableBytes) bytes left")
        }
        return .mapHeader(count: count)
    }
}

public import NIOCore

/// A decoded MessagePack document.
///
/// Decoding normalises integers: every value that fits in Int64 is `.int`, whatever format carried it, and `.uint` only
/// ever holds values above `Int64.max`; so two decodings of the same number compare equal. (A hand-built `.uint(5)` still
/// encodes exactly like `.int(5)`, but does not compare equal to it.)
public enum MessagePackValue: Sendable, Hashable {
    case `nil`
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case binary(ByteBuffer)
    case array([MessagePackValue])
    /// Entries in the order they were read; duplicate keys are kept, since MessagePack does not forbid them.
    case map([MessagePackMapEntry])
    case ext(type: Int8, data: ByteBuffer)
}

/// One key-value pair of a ``MessagePackValue/map(_:)``; keys may be any value, not only strings.
public struct MessagePackMapEntry: Sendable, Hashable {
    public var key: MessagePackValue
    public var value: MessagePackValue

    public init(key: MessagePackValue, value: MessagePackValue) {
        self.key = key
        self.value = value
    }
}

extension MessagePackValue {
    /// The deepest nesting of arrays and maps accepted by default (`[[1]]` has depth 2), the same limit as JSON input.
    public static let defaultMaxDepth = 64

    /// Decodes exactly one value filling all the readable bytes of `bytes` (which is not consumed).
    ///
    /// Refuses truncated input, length headers larger than what is left, nesting deeper than `maxDepth`, strings that are
    /// not valid UTF-8, the never-used byte 0xc1 and trailing bytes; the error says where and why.
    /// Strings are copied out; binary and extension data are slices of `bytes`.
    public init(decoding bytes: ByteBuffer, maxDepth: Int = MessagePackValue.defaultMaxDepth) throws(MessagePackError) {
        precondition(maxDepth >= 0, "maxDepth must not be negative")
        var reader = MessagePackReader(buffer: bytes)
        self = try Self.read(from: &reader, depth: 0, maxDepth: maxDepth)
        try reader.expectEnd()
    }

    /// Recursion is bounded by `maxDepth`, so it cannot exhaust the stack for any sensible limit (64 frames by default).
    private static func read(from reader: inout MessagePackReader, depth: Int, maxDepth: Int) throws(MessagePackError) -> MessagePackValue {
        let tokenOffset = reader.offset
        switch try reader.readToken() {
        case .nil: return .nil
        case .bool(let value): return .bool(value)
        case .int(let value): return .int(value)
        case .uint(let value): return .uint(value)
        case .double(let value): return .double(value)
        case .string(let value): return .string(value)
        case .binary(let value): return .binary(value)
        case .ext(let type, let data): return .ext(type: type, data: data)
        case .arrayHeader(let count):
            guard depth < maxDepth else { throw MessagePackError(offset: tokenOffset, reason: "nesting deeper than \(maxDepth)") }
            // The reader has checked `count` against the bytes left, so this reservation is bounded by the input size.
            var elements: [MessagePackValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count { elements.append(try read(from: &reader, depth: depth + 1, maxDepth: maxDepth)) }
            return .array(elements)
        case .mapHeader(let count):
            guard depth < maxDepth else { throw MessagePackError(offset: tokenOffset, reason: "nesting deeper than \(maxDepth)") }
            var entries: [MessagePackMapEntry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let key = try read(from: &reader, depth: depth + 1, maxDepth: maxDepth)
                let value = try read(from: &reader, depth: depth + 1, maxDepth: maxDepth)
                entries.append(MessagePackMapEntry(key: key, value: value))
            }
            return .map(entries)
        }
    }

    /// Appends this value's MessagePack encoding (smallest formats) to `writer`.
    /// - Precondition: no string, binary, array or map is longer than ``MessagePackWriter/maxLength``.
    public func write(to writer: inout MessagePackWriter) {
        switch self {
        case .nil: writer.nilValue()
        case .bool(let value): writer.bool(value)
        case .int(let value): writer.int(value)
        case .uint(let value): writer.uint(value)
        case .double(let value): writer.double(value)
        case .string(let value): writer.string(value)
        case .binary(let value): writer.binary(value)
        case .ext(let type, let data): writer.ext(type: type, data: data)
        case .array(let elements):
            writer.arrayHeader(count: elements.count)
            for element in elements { element.write(to: &writer) }
        case .map(let entries):
            writer.mapHeader(count: entries.count)
            for entry in entries {
                entry.key.write(to: &writer)
                entry.value.write(to: &writer)
            }
        }
    }

    /// This value's MessagePack encoding in a new buffer.
    public func encoded() -> ByteBuffer {
        var writer = MessagePackWriter()
        write(to: &writer)
        return writer.buffer
    }
}

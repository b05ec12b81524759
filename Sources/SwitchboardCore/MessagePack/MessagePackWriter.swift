public import NIOCore

/// Builds MessagePack (https://github.com/msgpack/msgpack/blob/master/spec.md) straight into a ByteBuffer.
///
/// Every value uses its smallest encoding, the rule the spec recommends and the one the reference implementations follow,
/// so equal values always give equal bytes. Like ``JSONWriter``, the writer does not check that calls form a valid
/// document: an array header promises a number of elements, and writing that many is the caller's job.
public struct MessagePackWriter {
    public private(set) var buffer: ByteBuffer

    /// The largest length a str, bin, array or map header can carry (32-bit lengths).
    public static let maxLength = Int(UInt32.max)

    /// Appends to `buffer`.
    public init(buffer: ByteBuffer) {
        self.buffer = buffer
    }

    public init(capacity: Int = 128) {
        self.buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    public mutating func nilValue() {
        buffer.writeInteger(UInt8(0xC0))
    }

    public mutating func bool(_ value: Bool) {
        buffer.writeInteger(value ? UInt8(0xC3) : UInt8(0xC2))
    }

    /// Writes a signed integer; non-negative values use the unsigned formats, as the reference implementations do.
    public mutating func int(_ value: Int64) {
        guard value < 0 else {
            uint(UInt64(value))
            return
        }
        switch value {
        case -32..<0:
            // Negative fixint: the byte itself is the value in two's complement.
            buffer.writeInteger(Int8(value))
        case Int64(Int8.min)..<0:
            buffer.writeInteger(UInt8(0xD0))
            buffer.writeInteger(Int8(value))
        case Int64(Int16.min)..<0:
            buffer.writeInteger(UInt8(0xD1))
            buffer.writeInteger(Int16(value))
        case Int64(Int32.min)..<0:
            buffer.writeInteger(UInt8(0xD2))
            buffer.writeInteger(Int32(value))
        default:
            buffer.writeInteger(UInt8(0xD3))
            buffer.writeInteger(value)
        }
    }

    public mutating func int(_ value: Int) {
        int(Int64(value))
    }

    public mutating func uint(_ value: UInt64) {
        switch value {
        case 0..<0x80:
            buffer.writeInteger(UInt8(value))
        case 0..<0x100:
            buffer.writeInteger(UInt8(0xCC))
            buffer.writeInteger(UInt8(value))
        case 0..<0x1_0000:
            buffer.writeInteger(UInt8(0xCD))
            buffer.writeInteger(UInt16(value))
        case 0..<0x1_0000_0000:
            buffer.writeInteger(UInt8(0xCE))
            buffer.writeInteger(UInt32(value))
        default:
            buffer.writeInteger(UInt8(0xCF))
            buffer.writeInteger(value)
        }
    }

    /// Writes a float 64, always: the reference implementations do, and a reader in a language with one number type
    /// (JavaScript) gains nothing from float 32. NaN and the infinities are written as they are.
    public mutating func double(_ value: Double) {
        buffer.writeInteger(UInt8(0xCB))
        buffer.writeInteger(value.bitPattern)
    }

    /// Writes a float 32, for callers that know their values fit.
    public mutating func float(_ value: Float) {
        buffer.writeInteger(UInt8(0xCA))
        buffer.writeInteger(value.bitPattern)
    }

    /// Writes a str (fixstr, str 8, str 16 or str 32 by length). Swift strings are always valid UTF-8.
    /// - Precondition: the UTF-8 form is at most ``maxLength`` bytes.
    public mutating func string(_ value: String) {
        var value = value
        // withUTF8 is free for native strings and makes bridged ones contiguous once.
        value.withUTF8 { utf8 in
            writeStringHeader(length: utf8.count)
            buffer.writeBytes(UnsafeRawBufferPointer(utf8))
        }
    }

    /// Writes a str from bytes the caller has already checked to be valid UTF-8 (such as a decoded JSON string).
    /// - Precondition: at most ``maxLength`` bytes.
    public mutating func string(utf8 bytes: UnsafeRawBufferPointer) {
        writeStringHeader(length: bytes.count)
        buffer.writeBytes(bytes)
    }

    /// Writes a bin (bin 8, bin 16 or bin 32 by length) holding the readable bytes of `value`.
    /// - Precondition: at most ``maxLength`` bytes.
    public mutating func binary(_ value: ByteBuffer) {
        writeLengthHeader(value.readableBytes, small: nil, format8: 0xC4, format16: 0xC5, format32: 0xC6)
        buffer.writeImmutableBuffer(value)
    }

    /// Writes an array header; the next `count` values written are its elements.
    /// - Precondition: `count` is at most ``maxLength``.
    public mutating func arrayHeader(count: Int) {
        writeLengthHeader(count, small: (limit: 16, base: 0x90), format8: nil, format16: 0xDC, format32: 0xDD)
    }

    /// Writes a map header; the next `count` pairs of values written (key, then value) are its entries.
    /// - Precondition: `count` is at most ``maxLength``.
    public mutating func mapHeader(count: Int) {
        writeLengthHeader(count, small: (limit: 16, base: 0x80), format8: nil, format16: 0xDE, format32: 0xDF)
    }

    /// Writes an extension value (fixext 1/2/4/8/16 when the length allows, else ext 8/16/32).
    /// - Precondition: at most ``maxLength`` bytes.
    public mutating func ext(type: Int8, data: ByteBuffer) {
        switch data.readableBytes {
        case 1: buffer.writeInteger(UInt8(0xD4))
        case 2: buffer.writeInteger(UInt8(0xD5))
        case 4: buffer.writeInteger(UInt8(0xD6))
        case 8: buffer.writeInteger(UInt8(0xD7))
        case 16: buffer.writeInteger(UInt8(0xD8))
        default: writeLengthHeader(data.readableBytes, small: nil, format8: 0xC7, format16: 0xC8, format32: 0xC9)
        }
        buffer.writeInteger(type)
        buffer.writeImmutableBuffer(data)
    }

    private mutating func writeStringHeader(length: Int) {
        writeLengthHeader(length, small: (limit: 32, base: 0xA0), format8: 0xD9, format16: 0xDA, format32: 0xDB)
    }

    /// Writes the smallest header for `length`: the fix form when there is one and it fits, then 8, 16 and 32-bit lengths.
    private mutating func writeLengthHeader(
        _ length: Int, small: (limit: Int, base: UInt8)?, format8: UInt8?, format16: UInt8, format32: UInt8
    ) {
        precondition(length >= 0 && length <= Self.maxLength, "MessagePack lengths are limited to 32 bits")
        if let small, length < small.limit {
            buffer.writeInteger(small.base | UInt8(length))
        } else if let format8, length <= Int(UInt8.max) {
            buffer.writeInteger(format8)
            buffer.writeInteger(UInt8(length))
        } else if length <= Int(UInt16.max) {
            buffer.writeInteger(format16)
            buffer.writeInteger(UInt16(length))
        } else {
            buffer.writeInteger(format32)
            buffer.writeInteger(UInt32(length))
        }
    }
}

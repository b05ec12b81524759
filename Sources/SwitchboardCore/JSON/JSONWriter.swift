public import NIOCore

/// Builds small JSON documents straight into a ByteBuffer.
///
/// Replies and push envelopes are written on the hot path, so there is no Foundation and no intermediate String for the
/// whole document. Commas are placed automatically; the writer does not check that calls form a valid document
/// (a key outside an object, or an unclosed container, is the caller's bug).
public struct JSONWriter {
    public private(set) var buffer: ByteBuffer
    /// Whether the next value or key must be preceded by a comma.
    ///
    /// One flag is enough: opening a container or writing a key clears it, and finishing any value (a closed container
    /// included) sets it, which is exactly the state the enclosing container needs next.
    private var needsComma = false

    /// Appends to `buffer`.
    public init(buffer: ByteBuffer) {
        self.buffer = buffer
    }

    public init(capacity: Int = 128) {
        self.buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    public mutating func beginObject() {
        writeSeparator()
        buffer.writeInteger(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        buffer.writeInteger(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray() {
        writeSeparator()
        buffer.writeInteger(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        buffer.writeInteger(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes `"name":`, preceded by a comma when the object already has a member.
    public mutating func key(_ name: String) {
        writeSeparator()
        writeEscaped(name)
        buffer.writeInteger(UInt8(ascii: ":"))
        needsComma = false
    }

    /// Writes a string, escaping `"`, `\` and control characters; other characters are written as UTF-8.
    public mutating func string(_ value: String) {
        writeSeparator()
        writeEscaped(value)
        needsComma = true
    }

    public mutating func int(_ value: Int64) {
        writeSeparator()
        if value < 0 { buffer.writeInteger(UInt8(ascii: "-")) }
        writeDigits(value.magnitude)
        needsComma = true
    }

    public mutating func int(_ value: Int) {
        int(Int64(value))
    }

    public mutating func uint(_ value: UInt64) {
        writeSeparator()
        writeDigits(value)
        needsComma = true
    }

    public mutating func bool(_ value: Bool) {
        writeSeparator()
        buffer.writeStaticString(value ? "true" : "false")
        needsComma = true
    }

    public mutating func null() {
        writeSeparator()
        buffer.writeStaticString("null")
        needsComma = true
    }

    /// Writes already-valid JSON value bytes verbatim, such as a validated publication; they are not checked again.
    public mutating func raw(_ json: ByteBuffer) {
        writeSeparator()
        buffer.writeImmutableBuffer(json)
        needsComma = true
    }

    public mutating func field(_ name: String, string value: String) {
        key(name)
        string(value)
    }

    public mutating func field(_ name: String, int value: Int) {
        key(name)
        int(value)
    }

    public mutating func field(_ name: String, int value: Int64) {
        key(name)
        int(value)
    }

    public mutating func field(_ name: String, uint value: UInt64) {
        key(name)
        uint(value)
    }

    public mutating func field(_ name: String, bool value: Bool) {
        key(name)
        bool(value)
    }

    public mutating func field(_ name: String, raw value: ByteBuffer) {
        key(name)
        raw(value)
    }

    public mutating func nullField(_ name: String) {
        key(name)
        null()
    }

    @inline(__always)
    private mutating func writeSeparator() {
        if needsComma { buffer.writeInteger(UInt8(ascii: ",")) }
    }

    private mutating func writeDigits(_ value: UInt64) {
        // UInt64.max has 20 digits; formatting backwards into reserved space avoids a String per number.
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 20) { out in
            var digits = 1
            var rest = value / 10
            while rest > 0 {
                digits += 1
                rest /= 10
            }
            var remaining = value
            for index in stride(from: digits - 1, through: 0, by: -1) {
                out[index] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: remaining % 10)
                remaining /= 10
            }
            return digits
        }
    }

    private mutating func writeEscaped(_ value: String) {
        var value = value
        // withUTF8 is free for native strings and makes bridged ones contiguous once.
        value.withUTF8 { utf8 in
            buffer.reserveCapacity(minimumWritableBytes: utf8.count + 2)
            buffer.writeInteger(UInt8(ascii: "\""))
            var runStart = 0
            for index in utf8.indices {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                // Bytes that need no escape are copied in runs, not one by one.
                buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: utf8[runStart..<index])))
                runStart = index + 1
                writeEscape(for: byte)
            }
            buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count])))
            buffer.writeInteger(UInt8(ascii: "\""))
        }
    }

    private mutating func writeEscape(for byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
        case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
        case 0x0A: buffer.writeStaticString("\\n")
        case 0x0D: buffer.writeStaticString("\\r")
        case 0x09: buffer.writeStaticString("\\t")
        case 0x08: buffer.writeStaticString("\\b")
        case 0x0C: buffer.writeStaticString("\\f")
        default:
            let hex: StaticString = "0123456789abcdef"
            buffer.writeStaticString("\\u00")
            buffer.writeInteger(hex.utf8Start[Int(byte >> 4)])
            buffer.writeInteger(hex.utf8Start[Int(byte & 0x0F)])
        }
    }
}

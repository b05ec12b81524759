public import NIOCore

/// Small JSON values built from Swift values.
public enum JSONText {
    /// `value` as a JSON string literal.
    public static func string(_ value: String) -> ByteBuffer {
        var writer = JSONWriter(capacity: value.utf8.count + 2)
        writer.string(value)
        return writer.buffer
    }
}

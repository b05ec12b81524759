public import NIOCore

/// Server-to-client WebSocket frames as wire bytes (RFC 6455 section 5.2): never masked, always final. Clients (the
/// bench, SwitchboardClient) write their masked headers with the same ``writeHeader(into:firstByte:maskingKey:payloadLength:)``.
///
/// Why the server frames its own messages instead of handing `WebSocketFrame` values to NIO's encoder: a publication's
/// frame is then built once and the same buffer is written to every subscriber — no header allocation and no second
/// iovec per delivery, and a backed-up queue holds one buffer per message.
public enum WebSocketFraming {
    public enum Opcode: UInt8, Sendable {
        case text = 0x1
        case binary = 0x2
        case close = 0x8
        case ping = 0x9
        case pong = 0xA
    }

    /// Header bytes for a payload of `length` bytes: 2, 4 (16-bit length) or 10 (64-bit length), and 4 more for a
    /// masking key.
    @inlinable
    public static func headerSize(payloadLength length: Int, masked: Bool = false) -> Int {
        (length < 126 ? 2 : length <= Int(UInt16.max) ? 4 : 10) + (masked ? 4 : 0)
    }

    @inlinable
    public static func writeHeader(into buffer: inout ByteBuffer, opcode: Opcode, compressed: Bool = false, payloadLength length: Int) {
        writeHeader(into: &buffer, firstByte: 0x80 | (compressed ? 0x40 : 0) | opcode.rawValue, payloadLength: length)
    }

    /// A header from its wire parts, for either side. `firstByte` is FIN, RSV1–3 and the opcode exactly as they go out,
    /// unchecked, so a test client can send what it means to. A `maskingKey` sets the mask bit and follows the length,
    /// as on every client frame (RFC 6455 section 5.3); the caller then writes the payload masked with that key.
    @inlinable
    public static func writeHeader(into buffer: inout ByteBuffer, firstByte: UInt8, maskingKey: UInt32? = nil, payloadLength length: Int) {
        buffer.writeInteger(firstByte)
        let maskBit: UInt8 = maskingKey == nil ? 0 : 0x80
        if length < 126 {
            buffer.writeInteger(maskBit | UInt8(length))
        } else if length <= Int(UInt16.max) {
            buffer.writeInteger(maskBit | 126)
            buffer.writeInteger(UInt16(length))
        } else {
            buffer.writeInteger(maskBit | 127)
            buffer.writeInteger(UInt64(length))
        }
        if let maskingKey { buffer.writeInteger(maskingKey) }
    }

    /// One complete frame carrying `payload` (copied behind the header).
    public static func frame(
        _ payload: ByteBuffer, opcode: Opcode, compressed: Bool = false, allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) -> ByteBuffer {
        var frame = allocator.buffer(capacity: headerSize(payloadLength: payload.readableBytes) + payload.readableBytes)
        writeHeader(into: &frame, opcode: opcode, compressed: compressed, payloadLength: payload.readableBytes)
        frame.writeImmutableBuffer(payload)
        return frame
    }

    /// A close frame: the code, then the reason cut to 123 bytes so the frame stays a legal control frame (a reason
    /// that would be cut inside a character is left out).
    public static func closeFrame(_ code: CloseCode, reason: String) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 2 + reason.utf8.count)
        buffer.writeInteger(code.rawValue)
        buffer.writeString(String(reason.utf8.prefix(123)) ?? "")
        return frame(buffer, opcode: .close)
    }
}

import NIOCore
import SwitchboardCore

/// Client-side WebSocket framing, just enough for the bench: masked frames out, unmasked frames in.
enum WebSocketClientFrame {
    /// A masked client frame (mask key 0, so the payload goes out as it is): one buffer, the header written by Core's
    /// ``WebSocketFraming``.
    static func make(opcode: UInt8, payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        let length = payload.readableBytes
        var frame = allocator.buffer(capacity: WebSocketFraming.headerSize(payloadLength: length, masked: true) + length)
        WebSocketFraming.writeHeader(into: &frame, firstByte: 0x80 | opcode, maskingKey: 0, payloadLength: length)
        frame.writeImmutableBuffer(payload)
        return frame
    }

    /// The first header byte's flags of an incoming frame.
    struct Flags {
        let byte: UInt8
        /// The frame ends its message.
        var fin: Bool { byte & 0x80 != 0 }
        /// permessage-deflate: the message this frame starts is compressed (RFC 7692 section 6).
        var rsv1: Bool { byte & 0x40 != 0 }
    }

    /// Calls `body` for every complete frame at the front of `pending`, with the reader index at the frame's payload
    /// and its length; consumes the frames. An incomplete frame stays for the next read.
    static func readFrames(
        _ pending: inout ByteBuffer, _ body: (_ opcode: UInt8, _ flags: Flags, _ length: Int, _ buffer: inout ByteBuffer) -> Void
    ) {
        while pending.readableBytes >= 2 {
            let start = pending.readerIndex
            guard let first = pending.getInteger(at: start, as: UInt8.self),
                let second = pending.getInteger(at: start + 1, as: UInt8.self)
            else { return }
            var headerLength = 2
            var length = Int(second & 0x7F)
            if length == 126 {
                guard let extended = pending.getInteger(at: start + 2, as: UInt16.self) else { return }
                length = Int(extended)
                headerLength = 4
            } else if length == 127 {
                guard let extended = pending.getInteger(at: start + 2, as: UInt64.self) else { return }
                length = Int(extended)
                headerLength = 10
            }
            if second & 0x80 != 0 { headerLength += 4 }  // servers do not mask; skip a key if one is there
            guard pending.readableBytes >= headerLength + length else { return }
            pending.moveReaderIndex(forwardBy: headerLength)
            let payloadStart = pending.readerIndex
            body(first & 0x0F, Flags(byte: first), length, &pending)
            pending.moveReaderIndex(to: payloadStart + length)
        }
    }
}

import NIOCore
import NIOWebSocket
import SwitchboardCore

extension WebSocketFrame {
    /// The payload with the client's mask removed, eight bytes at a time.
    ///
    /// Why not NIO's `unmaskedData`: it unmasks byte by byte through a generic iterator, which an unoptimised (debug)
    /// build runs some fifty times slower; the test suite and the Autobahn run use debug builds, where megabyte messages
    /// then took seconds each. The result is the same bytes.
    var unmaskedPayload: ByteBuffer {
        guard let maskKey else { return data }
        var payload = data
        payload.withUnsafeMutableReadableBytes { bytes in
            let key = (maskKey[0], maskKey[1], maskKey[2], maskKey[3])
            // The key repeated over a 64-bit word in memory order: XOR at offsets that are multiples of 8 (so of 4).
            var word: UInt64 = 0
            withUnsafeMutableBytes(of: &word) { wordBytes in
                for index in 0..<8 { wordBytes[index] = [key.0, key.1, key.2, key.3][index % 4] }
            }
            let count = bytes.count
            var index = 0
            while index + 8 <= count {
                let masked = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                bytes.storeBytes(of: masked ^ word, toByteOffset: index, as: UInt64.self)
                index += 8
            }
            while index < count {
                bytes[index] ^= [key.0, key.1, key.2, key.3][index % 4]
                index += 1
            }
        }
        return payload
    }
}

extension WebSocketInboundFrame {
    /// NIO's decoded frame as the connection's state machine reads it, unmasked.
    init(_ frame: WebSocketFrame) {
        self.init(
            opcode: Opcode(UInt8(webSocketOpcode: frame.opcode)), fin: frame.fin, rsv1: frame.rsv1, rsv2: frame.rsv2, rsv3: frame.rsv3,
            isMasked: frame.maskKey != nil, payload: frame.unmaskedPayload
        )
    }
}

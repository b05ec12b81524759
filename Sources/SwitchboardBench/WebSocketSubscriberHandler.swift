import NIOCore

/// One WebSocket subscriber on a raw NIO channel: its own minimal handshake and frame parser, no task per connection.
///
/// Every text frame is scanned for the payload stamp; a stamped frame is a delivery, anything else is a control
/// message (the first one confirms the subscription on Switchboard).
final class WebSocketSubscriberHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let request: String
    private let subscribeCommand: String?
    private let confirmedByMessage: Bool
    private let stats: LoopStats
    private let tally: SubscriberTally
    private var state = SubscriberState.handshaking
    private var pending = ByteBuffer()

    init(request: String, subscribeCommand: String?, confirmedByMessage: Bool, stats: LoopStats, tally: SubscriberTally) {
        self.request = request
        self.subscribeCommand = subscribeCommand
        self.confirmedByMessage = confirmedByMessage
        self.stats = stats
        self.tally = tally
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: request)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if pending.readableBytes == 0 {
            pending = incoming
        } else {
            pending.writeBuffer(&incoming)
        }
        if state == .handshaking {
            guard let head = ResponseHead.read(from: &pending) else { return }
            guard head.status == 101 else {
                fail(context: context, reason: "HTTP \(head.status) instead of 101")
                return
            }
            if let subscribeCommand {
                state = confirmedByMessage ? .subscribing : .subscribed
                sendFrame(context: context, opcode: 0x1, payload: ByteBuffer(string: subscribeCommand))
            } else {
                state = .subscribed
            }
            if state == .subscribed { stats.markEstablished(tally) }
        }
        readFrames(context: context)
        if pending.readableBytes == 0 {
            pending.clear()
        } else if pending.readerIndex > 65_536 {
            pending.discardReadBytes()
        }
    }

    private func readFrames(context: ChannelHandlerContext) {
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
            let opcode = first & 0x0F
            switch opcode {
            case 0x0, 0x1, 0x2:
                onMessage(context: context, length: length)
            case 0x9:
                let payload = pending.getSlice(at: pending.readerIndex, length: length) ?? ByteBuffer()
                sendFrame(context: context, opcode: 0xA, payload: payload)
            case 0x8:
                context.close(promise: nil)
            default:
                break
            }
            pending.moveReaderIndex(forwardBy: length)
        }
    }

    @inline(__always)
    private func onMessage(context: ChannelHandlerContext, length: Int) {
        let stamp = pending.withUnsafeReadableBytes { bytes in
            PayloadStamp.find(in: UnsafeRawBufferPointer(rebasing: bytes[0..<length]))
        }
        if let stamp {
            stats.recordDelivery(stamp, tally: tally, now: WallClock.nanoseconds())
        } else if state == .subscribing {
            let text = pending.getString(at: pending.readerIndex, length: length) ?? ""
            if text.contains(#""result""#) {
                state = .subscribed
                stats.markEstablished(tally)
            } else {
                fail(context: context, reason: "subscribe refused: \(text.prefix(120))")
            }
        }
    }

    /// A masked client frame (mask key 0, so the payload goes out as it is).
    private func sendFrame(context: ChannelHandlerContext, opcode: UInt8, payload: ByteBuffer) {
        var frame = context.channel.allocator.buffer(capacity: payload.readableBytes + 14)
        frame.writeInteger(0x80 | opcode)
        let length = payload.readableBytes
        if length < 126 {
            frame.writeInteger(UInt8(0x80 | length))
        } else {
            frame.writeInteger(UInt8(0x80 | 126))
            frame.writeInteger(UInt16(length))
        }
        frame.writeInteger(UInt32(0))
        var body = payload
        frame.writeBuffer(&body)
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    private func fail(context: ChannelHandlerContext, reason: String) {
        state.fail(context: context, reason: reason, stats: stats)
    }

    func channelInactive(context: ChannelHandlerContext) {
        state.closed(context: context, stats: stats)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        state.errorCaught(context: context, error: error, stats: stats)
    }
}

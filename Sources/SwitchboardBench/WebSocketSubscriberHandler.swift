import NIOCore
import SwitchboardClient

/// One WebSocket subscriber on a raw NIO channel: its own minimal handshake and frame parser (the response head is read
/// by SwitchboardClient's `HTTPResponseHead`), no task per connection.
///
/// Every text frame is scanned for the payload stamp; a stamped frame is a delivery, anything else is a control
/// message: the first one confirms the subscription on Switchboard (its position is kept for a later resume), later
/// ones are the replies to the echo client's own `publish` commands.
///
/// With `--deflate` the handshake offers permessage-deflate, a 101 that does not agree fails the connection, and every
/// compressed message (RSV1) is inflated before that scan; the subscriber's own frames go out uncompressed.
final class WebSocketSubscriberHandler: SubscriberConnection, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let request: String
    private let subscribeCommand: String?
    private let confirmedByMessage: Bool
    /// permessage-deflate was offered; once the 101 agreed, compressed messages are inflated.
    private let deflate: Bool
    private var deflateAgreed = false
    /// The frames so far of a compressed message that is not complete yet (server fragmentation).
    private var compressedFragments: ByteBuffer?
    let stats: LoopStats
    let tally: SubscriberTally
    var state = SubscriberState.handshaking
    private var pending = ByteBuffer()
    private var context: ChannelHandlerContext?

    init(
        request: String, subscribeCommand: String?, confirmedByMessage: Bool, deflate: Bool = false, stats: LoopStats, tally: SubscriberTally
    ) {
        self.request = request
        self.subscribeCommand = subscribeCommand
        self.confirmedByMessage = confirmedByMessage
        self.deflate = deflate
        self.stats = stats
        self.tally = tally
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

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
            guard let head = HTTPResponseHead.read(from: &pending, refusing: { fail(context: context, reason: $0.description) }) else { return }
            guard head.status == 101 else {
                fail(context: context, reason: "HTTP \(head.status) instead of 101")
                return
            }
            if deflate {
                if let refusal = BenchDeflate.refusal(ofResponseExtensions: head.combinedHeader("sec-websocket-extensions")) {
                    fail(context: context, reason: refusal)
                    return
                }
                deflateAgreed = true
            }
            if let subscribeCommand {
                state = confirmedByMessage ? .subscribing : .subscribed
                sendFrame(context: context, opcode: 0x1, payload: ByteBuffer(string: subscribeCommand), flush: true)
            } else {
                state = .subscribed
            }
            if state == .subscribed { stats.markEstablished(tally) }
        }
        WebSocketClientFrame.readFrames(&pending) { opcode, flags, length, buffer in
            switch opcode {
            case 0x1 where flags.rsv1, 0x2 where flags.rsv1, 0x0 where compressedFragments != nil:
                onCompressedFrame(context: context, opcode: opcode, flags: flags, length: length, buffer: buffer)
            case 0x0, 0x1, 0x2:
                stats.frames.uncompressed += 1
                onMessage(context: context, length: length, buffer: buffer)
            case 0x9:
                let payload = buffer.getSlice(at: buffer.readerIndex, length: length) ?? ByteBuffer()
                sendFrame(context: context, opcode: 0xA, payload: payload, flush: true)
            case 0x8:
                context.close(promise: nil)
            default:
                break
            }
        }
        if pending.readableBytes == 0 {
            pending.clear()
        } else if pending.readerIndex > 65_536 {
            pending.discardReadBytes()
        }
    }

    /// A frame of a compressed message: collected until the message ends, then inflated and handled as one.
    private func onCompressedFrame(
        context: ChannelHandlerContext, opcode: UInt8, flags: WebSocketClientFrame.Flags, length: Int, buffer: ByteBuffer
    ) {
        guard deflateAgreed else {
            fail(context: context, reason: "compressed frame (RSV1) without permessage-deflate agreed")
            return
        }
        stats.frames.compressed += 1
        stats.frames.compressedBytes += length
        var frame = buffer.getSlice(at: buffer.readerIndex, length: length) ?? ByteBuffer()
        let message: ByteBuffer
        if opcode == 0x0, var fragments = compressedFragments {
            compressedFragments = nil
            fragments.writeBuffer(&frame)
            guard flags.fin else {
                compressedFragments = fragments
                return
            }
            message = fragments
        } else {
            compressedFragments = nil
            guard flags.fin else {
                // Copied: the slice's bytes live in `pending`, which is reused for the next reads.
                var copy = context.channel.allocator.buffer(capacity: length)
                copy.writeBuffer(&frame)
                compressedFragments = copy
                return
            }
            message = frame
        }
        let inflated: ByteBuffer
        do {
            inflated = try stats.inflater().inflate(message)
        } catch let error as PerMessageInflater.InflateError {
            fail(context: context, reason: error.description)
            return
        } catch {
            fail(context: context, reason: "inflater: \(error)")
            return
        }
        stats.frames.inflatedBytes += inflated.readableBytes
        onMessage(context: context, length: inflated.readableBytes, buffer: inflated)
    }

    @inline(__always)
    private func onMessage(context: ChannelHandlerContext, length: Int, buffer: ByteBuffer) {
        let stamp = buffer.withUnsafeReadableBytes { bytes in
            PayloadStamp.find(in: UnsafeRawBufferPointer(rebasing: bytes[0..<length]))
        }
        if let stamp {
            stats.recordDelivery(stamp, tally: tally, now: WallClock.nanoseconds())
            return
        }
        let text = buffer.getString(at: buffer.readerIndex, length: length) ?? ""
        if state == .subscribing {
            if text.contains(#""result""#) {
                state = .subscribed
                tally.noteSubscribeReply(text)
                stats.markEstablished(tally)
            } else {
                fail(context: context, reason: "subscribe refused: \(text.prefix(120))")
            }
        } else if tally.publishedByItself > 0, text.hasPrefix(#"{"id":"#) {
            // A reply to one of this echo client's publish commands.
            if text.contains(#""result""#) { tally.ownPublicationsAccepted += 1 } else { tally.ownPublicationsRefused += 1 }
        }
    }

    /// Echo mode: publishes stamped `data` to this subscriber's own channel; the caller flushes once per tick.
    func publish(command: String) {
        guard let context, state == .subscribed else { return }
        tally.publishedByItself += 1
        sendFrame(context: context, opcode: 0x1, payload: ByteBuffer(string: command), flush: false)
    }

    func flush() { context?.flush() }

    private func sendFrame(context: ChannelHandlerContext, opcode: UInt8, payload: ByteBuffer, flush: Bool) {
        let frame = WebSocketClientFrame.make(opcode: opcode, payload: payload, allocator: context.channel.allocator)
        if flush { context.writeAndFlush(wrapOutboundOut(frame), promise: nil) } else { context.write(wrapOutboundOut(frame), promise: nil) }
    }

}

@available(*, unavailable) extension WebSocketSubscriberHandler: Sendable {}

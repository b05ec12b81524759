import NIOCore
import SwitchboardClient

/// One Server-Sent Events subscriber on a raw NIO channel: reads `data:` lines (de-chunking when the server uses
/// chunked encoding, as nginx does) and counts stamped ones as deliveries.
final class SSESubscriberHandler: SubscriberConnection, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let request: String
    private let confirmedByMessage: Bool
    let stats: LoopStats
    private let tally: SubscriberTally
    var state = SubscriberState.handshaking
    private var pending = ByteBuffer()
    private var dechunker: ChunkedBodyDecoder?
    private var body = ByteBuffer()

    init(request: String, confirmedByMessage: Bool, stats: LoopStats, tally: SubscriberTally) {
        self.request = request
        self.confirmedByMessage = confirmedByMessage
        self.stats = stats
        self.tally = tally
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: request)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if state == .handshaking {
            pending.writeBuffer(&incoming)
            guard let head = HTTPResponseHead.read(from: &pending, refusing: { fail(context: context, reason: $0.description) }) else { return }
            guard head.status == 200 else {
                fail(context: context, reason: "HTTP \(head.status) instead of 200")
                return
            }
            if head.isChunked { dechunker = ChunkedBodyDecoder() }
            state = confirmedByMessage ? .subscribing : .subscribed
            if state == .subscribed { stats.markEstablished(tally) }
            incoming = pending
            pending = ByteBuffer()
        }
        if var dechunker {
            dechunker.decode(&incoming, into: &body)
            self.dechunker = dechunker
        } else if body.readableBytes == 0 {
            body = incoming
        } else {
            body.writeBuffer(&incoming)
        }
        readLines(context: context)
        if body.readableBytes == 0 {
            body.clear()
        } else if body.readerIndex > 65_536 {
            body.discardReadBytes()
        }
    }

    private func readLines(context: ChannelHandlerContext) {
        while let newline = body.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - body.readerIndex
            if length >= 5, body.getInteger(at: body.readerIndex, as: UInt32.self) == Self.dataPrefix {
                onData(context: context, length: length)
            }
            body.moveReaderIndex(forwardBy: length + 1)
        }
    }

    /// `data` as a big-endian UInt32, to spot `data:` lines with one comparison.
    private static let dataPrefix = UInt32(0x6461_7461)

    @inline(__always)
    private func onData(context: ChannelHandlerContext, length: Int) {
        let stamp = body.withUnsafeReadableBytes { bytes in
            PayloadStamp.find(in: UnsafeRawBufferPointer(rebasing: bytes[0..<length]))
        }
        if let stamp {
            stats.recordDelivery(stamp, tally: tally, now: WallClock.nanoseconds())
        } else if state == .subscribing {
            let text = body.getString(at: body.readerIndex, length: length) ?? ""
            if text.contains(#""push":"subscribed""#) {
                state = .subscribed
                stats.markEstablished(tally)
            }
        }
    }

}

/// Undoes HTTP/1.1 chunked transfer encoding incrementally: chunk-size lines out, chunk data through.
struct ChunkedBodyDecoder {
    private var remainingInChunk = 0
    private var sizeLine: [UInt8] = []
    private var skipCRLF = 0

    mutating func decode(_ input: inout ByteBuffer, into output: inout ByteBuffer) {
        while input.readableBytes > 0 {
            if skipCRLF > 0 {
                input.moveReaderIndex(forwardBy: 1)
                skipCRLF -= 1
            } else if remainingInChunk > 0 {
                let take = min(remainingInChunk, input.readableBytes)
                var slice = input.readSlice(length: take)!
                output.writeBuffer(&slice)
                remainingInChunk -= take
                if remainingInChunk == 0 { skipCRLF = 2 }
            } else {
                let byte = input.readInteger(as: UInt8.self)!
                if byte == UInt8(ascii: "\n") {
                    let hex = String(decoding: sizeLine.prefix { $0 != UInt8(ascii: ";") && $0 != 13 }, as: UTF8.self)
                    remainingInChunk = Int(hex, radix: 16) ?? 0
                    sizeLine.removeAll(keepingCapacity: true)
                } else {
                    sizeLine.append(byte)
                }
            }
        }
    }
}

@available(*, unavailable) extension SSESubscriberHandler: Sendable {}

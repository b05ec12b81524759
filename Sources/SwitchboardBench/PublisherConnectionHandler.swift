import NIOCore
import SwitchboardClient

/// One keep-alive HTTP/1.1 connection of the publisher: requests are pipelined, responses matched in order.
///
/// Each response's status is reported with the channel index its request was for, so the runner knows how many
/// publications every channel's subscribers should have received.
final class PublisherConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var pending = ByteBuffer()
    private var inFlight: [Int] = []
    private var inFlightHead = 0
    private var bodyRemaining: Int?
    /// The last response's body is chunked: skipped up to its last chunk.
    private var inChunkedBody = false
    private let onResponse: (_ channelIndex: Int, _ status: Int) -> Void
    private let onClose: (_ unanswered: [Int]) -> Void

    init(onResponse: @escaping (Int, Int) -> Void, onClose: @escaping ([Int]) -> Void) {
        self.onResponse = onResponse
        self.onClose = onClose
    }

    /// Notes a request just written for `channelIndex`, so its response can be attributed.
    func expectResponse(channelIndex: Int) { inFlight.append(channelIndex) }

    var outstanding: Int { inFlight.count - inFlightHead }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        pending.writeBuffer(&incoming)
        while true {
            if let remaining = bodyRemaining {
                let skip = min(remaining, pending.readableBytes)
                pending.moveReaderIndex(forwardBy: skip)
                if skip < remaining {
                    bodyRemaining = remaining - skip
                    break
                }
                bodyRemaining = nil
            }
            if inChunkedBody {
                guard let last = pending.readableBytesView.firstRange(of: Self.lastChunk) else { break }
                pending.moveReaderIndex(to: last.upperBound)
                inChunkedBody = false
            }
            guard let head = HTTPResponseHead.read(from: &pending, refusing: { _ in context.close(promise: nil) }) else { break }
            if let length = head.contentLength {
                bodyRemaining = length
            } else {
                inChunkedBody = head.isChunked
            }
            if inFlightHead < inFlight.count {
                onResponse(inFlight[inFlightHead], head.status)
                inFlightHead += 1
                if inFlightHead > 1024 {
                    inFlight.removeFirst(inFlightHead)
                    inFlightHead = 0
                }
            }
        }
        pending.discardReadBytes()
    }

    private static let lastChunk = Array("\r\n0\r\n\r\n".utf8)

    func channelInactive(context: ChannelHandlerContext) {
        onClose(Array(inFlight[inFlightHead...]))
        inFlight.removeAll()
        inFlightHead = 0
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable) extension PublisherConnectionHandler: Sendable {}

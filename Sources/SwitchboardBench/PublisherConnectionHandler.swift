import NIOCore

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
            let view = pending.readableBytesView
            guard let end = view.firstRange(of: [13, 10, 13, 10]) else { break }
            let head = pending.readString(length: end.upperBound - view.startIndex) ?? ""
            let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
            let lower = head.lowercased()
            if let range = lower.range(of: "content-length:") {
                let digits = lower[range.upperBound...].drop { $0 == " " }.prefix { $0.isNumber }
                bodyRemaining = Int(digits) ?? 0
            } else if lower.contains("transfer-encoding: chunked") {
                guard let last = pending.readableBytesView.firstRange(of: Array("\r\n0\r\n\r\n".utf8)) else { break }
                pending.moveReaderIndex(to: last.upperBound)
            }
            if inFlightHead < inFlight.count {
                onResponse(inFlight[inFlightHead], status)
                inFlightHead += 1
                if inFlightHead > 1024 {
                    inFlight.removeFirst(inFlightHead)
                    inFlightHead = 0
                }
            }
        }
        pending.discardReadBytes()
    }

    func channelInactive(context: ChannelHandlerContext) {
        onClose(Array(inFlight[inFlightHead...]))
        inFlight.removeAll()
        inFlightHead = 0
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

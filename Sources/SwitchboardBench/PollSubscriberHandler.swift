import NIOCore

/// One long-poll subscriber on a keep-alive HTTP/1.1 connection, as a browser without WebSocket or streaming would
/// behave: open a session, send `subscribe` to its command address, then poll again and again, confirming with
/// `ack` the last sequence number it processed (protocol §8.1–8.2).
///
/// The subscribe reply arrives in a poll response like every other message, so the subscription counts as
/// established only when a poll brings it back.
final class PollSubscriberHandler: SubscriberConnection, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Step { case opening, subscribing, polling }

    private let host: String
    private let subscribeCommand: String
    let stats: LoopStats
    private let tally: SubscriberTally
    private var step = Step.opening
    var state = SubscriberState.handshaking
    private var reader = HTTPResponseReader()
    private var session = ""
    private var ack: UInt64 = 0

    init(host: String, subscribeCommand: String, stats: LoopStats, tally: SubscriberTally) {
        self.host = host
        self.subscribeCommand = subscribeCommand
        self.stats = stats
        self.tally = tally
    }

    func channelActive(context: ChannelHandlerContext) {
        send(context: context, "POST /connection/poll HTTP/1.1\r\nHost: \(host)\r\nContent-Length: 0\r\n\r\n")
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        reader.append(&incoming)
        do {
            while let response = try reader.next() { handle(response, context: context) }
        } catch {
            fail(context: context, reason: "\(error)")
        }
    }

    private func handle(_ response: HTTPResponseReader.Response, context: ChannelHandlerContext) {
        switch step {
        case .opening:
            guard response.status == 200, let id = Self.session(in: response.body) else {
                return fail(context: context, reason: "opening a poll session: HTTP \(response.status)")
            }
            session = id
            step = .subscribing
            state = .subscribing
            send(
                context: context,
                "POST /connection/\(id)/command HTTP/1.1\r\nHost: \(host)\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(subscribeCommand.utf8.count)\r\n\r\n\(subscribeCommand)")
        case .subscribing:
            guard response.status == 202 else { return fail(context: context, reason: "subscribe command: HTTP \(response.status)") }
            step = .polling
            poll(context: context)
        case .polling:
            guard response.status == 200 else {
                // 404: the server ended the session (slow consumer, shutdown); nothing more can arrive.
                if state == .subscribed { stats.closedEarlyUnlessClosing() }
                state = .failed
                return context.close(promise: nil)
            }
            read(pollBody: response.body, context: context)
            if state != .failed { poll(context: context) }
        }
    }

    /// Counts every stamped publication of one poll response and remembers its `seq` as the next `ack`.
    private func read(pollBody body: ByteBuffer, context: ChannelHandlerContext) {
        let now = WallClock.nanoseconds()
        let (sequence, subscribeAnswer) = body.withUnsafeReadableBytes { bytes -> (UInt64, Bool?) in
            // The body is {"seq":M,"messages":[…]}: read M first, and look for stamps only after it, since the
            // envelope's own "seq" would otherwise look like a payload stamp.
            guard let afterSeq = PayloadStamp.indexAfter(PayloadStamp.sequenceKey, in: bytes, from: 0) else { return (0, nil) }
            let (sequence, end) = PayloadStamp.number(in: bytes, at: afterSeq)
            var answer: Bool?
            if state == .subscribing {
                if PayloadStamp.indexAfter(Self.resultKey, in: bytes, from: end) != nil {
                    answer = true
                } else if PayloadStamp.indexAfter(Self.errorKey, in: bytes, from: end) != nil {
                    answer = false
                }
            }
            PayloadStamp.forEach(in: bytes, from: end) { sequence, timestamp in
                stats.recordDelivery((sequence, timestamp), tally: tally, now: now)
            }
            return (sequence, answer)
        }
        ack = max(ack, sequence)
        switch subscribeAnswer {
        case true?:
            state = .subscribed
            stats.markEstablished(tally)
        case false?:
            fail(context: context, reason: "subscribe refused: \(String(buffer: body).prefix(120))")
        case nil:
            break
        }
    }

    private static let resultKey = Array(#""result""#.utf8)
    private static let errorKey = Array(#""error""#.utf8)

    private func poll(context: ChannelHandlerContext) {
        send(context: context, "GET /connection/poll/\(session)?ack=\(ack) HTTP/1.1\r\nHost: \(host)\r\n\r\n")
    }

    private func send(context: ChannelHandlerContext, _ text: String) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: text)), promise: nil)
    }

    private static func session(in body: ByteBuffer) -> String? {
        let text = String(buffer: body)
        guard let key = text.range(of: #""session":""#), let end = text[key.upperBound...].firstIndex(of: "\"") else { return nil }
        return String(text[key.upperBound..<end])
    }

}

@available(*, unavailable) extension PollSubscriberHandler: Sendable {}

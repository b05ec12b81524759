import NIOCore
import NIOHTTP1
import SwitchboardCore

/// Stands between the HTTP/1 parser and Hummingbird for every request that reaches the router (keep-alive ones too),
/// enforcing what Hummingbird does not:
///
/// - the head rules of ``HTTPRequestGuard/headRefusal(_:hostPolicy:limits:)`` (one well-formed `Host` this server answers to,
///   at most one `Origin`, at most `limits.max_header_count` header lines), answered before the router sees the
///   request;
/// - a `Content-Length` over `limits.max_message_bytes`: `413` at once, without waiting for a body it would refuse;
/// - `limits.body_timeout_ms` from the head to the body's end: a body that trickles gets `408` (or, when its response
///   has started, a close) instead of holding the connection for as long as it keeps sending;
/// - closing after the response when the client asked for it (HTTP/1.0 without `Connection: keep-alive`,
///   `Connection: close`; Hummingbird only sees HTTP/1.1-style requests without a version) and after redirecting a
///   stream request (stream endpoints are served only on a connection's first request, so the redirected client must
///   come back on a new connection);
/// - parse errors after the first request (an oversized head: `431`, anything else: `400`).
///
/// Refusals are written here as a JSON reason with `connection: close`, then the connection closes.
final class HTTPRequestGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let hostPolicy: HostPolicy
    /// The head, body and deadline limits.
    private let settings: ServerSettings
    private let metrics: ServerMetrics
    /// One entry per request passed on and not yet answered (requests may be pipelined): whether to close after its
    /// response.
    private var closeAfterResponses = CircularBuffer<Bool>()
    /// Whether the oldest unanswered request's response head went out (a refusal can no longer be written for it).
    private var responseStarted = false
    /// Running from a head announcing a body until that body ends.
    private var bodyTimer: Scheduled<Void>?
    /// A refusal for a request pipelined behind unanswered ones, written once they are answered.
    private var pendingRefusal: Refusal?
    /// A refusal was written or is pending: nothing more is read from this connection.
    private var refusing = false

    init(hostPolicy: HostPolicy, settings: ServerSettings, metrics: ServerMetrics) {
        self.hostPolicy = hostPolicy
        self.settings = settings
        self.metrics = metrics
    }

    /// The checks every request head passes before routing, in order: `Host` and `Origin` (RFC 9112 §3.2, DNS
    /// rebinding), then the header count and size (HTTP/1's parser enforces both already; HTTP/2 heads are checked
    /// here: NIO's HTTP/2 advertises `SETTINGS_MAX_HEADER_LIST_SIZE` but serves a longer head).
    static func headRefusal(_ head: HTTPRequestHead, hostPolicy: HostPolicy, limits: HubConfiguration.Limits) -> Refusal? {
        let requiresHost = head.version.major > 1 || (head.version.major == 1 && head.version.minor >= 1)
        if let refused = hostPolicy.check(hosts: head.headers["host"], origins: head.headers["origin"], requiresHost: requiresHost) {
            let error = ProtocolError(refused.misdirected ? .hostNotAllowed : .badRequest, refused.reason)
            return Refusal(status: refused.misdirected ? .misdirectedRequest : .badRequest, error: error)
        }
        if head.headers.count > limits.maxHeaderCount {
            return headTooLarge(limits)
        }
        if head.version.major >= 2, headerListSize(head.headers) > limits.maxHeaderBytes {
            return headTooLarge(limits)
        }
        return nil
    }

    /// A head's size as HTTP/2 counts it (RFC 9113 §6.5.2): each field's name and value bytes plus 32.
    static func headerListSize(_ headers: HTTPHeaders) -> Int {
        headers.reduce(0) { size, field in size + field.name.utf8.count + field.value.utf8.count + 32 }
    }

    static func headTooLarge(_ limits: HubConfiguration.Limits) -> Refusal {
        return Refusal(
            status: .requestHeaderFieldsTooLarge,
            error: ProtocolError(
                .badRequest,
                "request head over \(limits.maxHeaderBytes) bytes or \(limits.maxHeaderCount) header lines (limits.max_header_bytes, limits.max_header_count)"
            ))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refusing else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            if let refusal = Self.headRefusal(head, hostPolicy: hostPolicy, limits: settings.limits) ?? bodyRefusal(head) {
                refuse(refusal, context: context)
                return
            }
            closeAfterResponses.append(StreamRoutes.isStreamPath(head.uri) || !head.isKeepAlive)
            if Self.announcesBody(head) { startBodyTimer(context: context) }
        case .body:
            break
        case .end:
            bodyTimer?.cancel()
            bodyTimer = nil
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        guard !refusing else { return }
        // The parser stops at its first error: the request it was reading is answered here, not by the router.
        bodyTimer?.cancel()
        let refusal =
            parseError == .headerOverflow
            ? Self.headTooLarge(settings.limits)
            : Refusal(status: .badRequest, error: ProtocolError(.badRequest, "malformed HTTP request"))
        refuse(refusal, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        bodyTimer?.cancel()
        bodyTimer = nil
        context.fireChannelInactive()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head):
            responseStarted = true
            if closeAfterResponses.first == true, !head.headers.contains(name: "connection") {
                head.headers.add(name: "connection", value: "close")
                context.write(wrapOutboundOut(.head(head)), promise: promise)
                return
            }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            responseStarted = false
            let closes = closeAfterResponses.popFirst() == true
            if closes {
                let written = promise ?? context.eventLoop.makePromise()
                context.write(data, promise: written)
                let channel = context.channel
                written.futureResult.whenComplete { _ in channel.close(promise: nil) }
                return
            }
            context.write(data, promise: promise)
            if closeAfterResponses.isEmpty, let refusal = pendingRefusal {
                pendingRefusal = nil
                writeRefusal(refusal, context: context)
            }
        }
    }

    // MARK: refusals

    /// A body announced larger than the server would ever collect is refused from the head alone.
    private func bodyRefusal(_ head: HTTPRequestHead) -> Refusal? {
        let limit = settings.limits.maxMessageBytes
        guard let declared = head.headers.first(name: "content-length").flatMap(Int.init), declared > limit else { return nil }
        return Refusal(status: .payloadTooLarge, error: ProtocolError(.messageTooLarge, "body larger than \(limit) bytes (limits.max_message_bytes)"))
    }

    private static func announcesBody(_ head: HTTPRequestHead) -> Bool {
        if head.headers.contains(name: "transfer-encoding") { return true }
        guard let length = head.headers.first(name: "content-length") else { return false }
        return length != "0"
    }

    private func startBodyTimer(context: ChannelHandlerContext) {
        bodyTimer?.cancel()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        bodyTimer = context.eventLoop.scheduleTask(in: TimeAmount(settings.limits.bodyTimeout)) {
            let (guardHandler, context) = bound.value
            guardHandler.bodyTimedOut(context: context)
        }
    }

    private func bodyTimedOut(context: ChannelHandlerContext) {
        bodyTimer = nil
        guard !refusing else { return }
        let limit = settings.limits.bodyTimeout
        refuse(
            Refusal(
                status: .requestTimeout, error: ProtocolError(.badRequest, "request body not completed within \(limit) (limits.body_timeout_ms)")),
            context: context)
    }

    /// Stops reading and answers: at once when no earlier response is outstanding, after it otherwise; a request
    /// whose own response has begun cannot be answered again, so its connection just closes.
    private func refuse(_ refusal: Refusal, context: ChannelHandlerContext) {
        refusing = true
        bodyTimer?.cancel()
        bodyTimer = nil
        metrics.error(refusal.error.code)
        // The oldest unanswered request may be the one refused (its body timed out) or an earlier one still running.
        let outstanding = closeAfterResponses.count
        if outstanding == 0 {
            writeRefusal(refusal, context: context)
        } else if outstanding == 1 && !responseStarted && refusal.status == .requestTimeout {
            closeAfterResponses.removeAll()
            writeRefusal(refusal, context: context)
        } else if refusal.status == .requestTimeout {
            context.close(promise: nil)
        } else {
            pendingRefusal = refusal
        }
    }

    private func writeRefusal(_ refusal: Refusal, context: ChannelHandlerContext) {
        let body = Pushes.httpError(refusal.error)
        var headers = HTTPHeaders([
            ("content-type", "application/json"), ("content-length", String(body.readableBytes)), ("connection", "close"),
        ])
        for (name, value) in refusal.headers { headers.add(name: name, value: value) }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: refusal.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        ConnectionClosing.close(context: context, after: wrapOutboundOut(.end(nil)), timeout: .seconds(1))
    }
}

@available(*, unavailable) extension HTTPRequestGuard: Sendable {}

import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import SwitchboardCore

/// How a connection is served after its first request.
enum ConnectionKind: Sendable {
    /// WebSocket or SSE on classic NIO handlers, or refused: no Swift task needed.
    case handedOff
    /// Ordinary HTTP: Hummingbird's request loop runs on this async channel.
    case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
}

/// Reads the first request head of a connection and rebuilds the pipeline for what it asks: a WebSocket upgrade
/// (101 written here, then frame handlers), an SSE stream, a refusal with a JSON reason (401/403/404/426… before any
/// upgrade, which Hummingbird's stock upgrader cannot do), or Hummingbird's HTTP handlers.
///
/// Also enforces the handshake timeout: a client that never completes its first request is answered 408 and closed.
final class ConnectionRouter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private enum State {
        case awaitingHead
        /// A stream request carried a token; its verification runs off the loop. `endReceived` records whether the
        /// request already ended, `quiescing` whether shutdown began meanwhile.
        case verifying(HTTPRequestHead, endReceived: Bool, quiescing: Bool)
        /// Head decided; waiting for the end of the request before handing off.
        case awaitingEnd(RouteDecision)
        case done
    }

    /// What the router reads from: a connection's bytes (plain or TLS), or one stream of an HTTP/2 connection.
    enum Wire {
        /// HTTP/1.1 on the connection itself; `secure` when under TLS (request scheme `https`).
        case http1(requestDecoder: ByteToMessageHandler<HTTPRequestDecoder>, secure: Bool)
        /// One HTTP/2 stream. The connection was counted against the connection limits once, when HTTP/2 was
        /// negotiated; `overLimit` is its answer, given to every stream.
        case http2Stream(overLimit: Refusal?)
    }

    /// Decides from the head; anonymous until a token proved who the client is.
    private let routes: StreamRoutes
    /// What the handlers taking over a stream need; also limits, tokens, metrics and audit for the router itself.
    private let services: StreamServices
    private let wire: Wire
    private let kind: EventLoopPromise<ConnectionKind>
    private let logger: Logger
    private var state = State.awaitingHead
    private var handshakeTimer: Scheduled<Void>?
    /// Set when the connection is over a connection limit: its first request is answered with this refusal.
    private var overLimit: Refusal?
    /// The request's path without its query (which may carry a token), for the refusal's log line.
    private var requestPath: String?

    init(routes: StreamRoutes, services: StreamServices, wire: Wire, kind: EventLoopPromise<ConnectionKind>, logger: Logger) {
        self.routes = routes
        self.services = services
        self.wire = wire
        self.kind = kind
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        switch wire {
        case .http1: overLimit = Self.admitConnection(context.channel, connections: services.session.connections, audit: services.session.audit)
        case .http2Stream(let refusal): overLimit = refusal
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        handshakeTimer = context.eventLoop.scheduleTask(in: services.settings.handshakeTimeout) {
            let (router, context) = bound.value
            router.handshakeTimedOut(context: context)
        }
    }

    /// Counts a TCP connection against the node and per-IP limits until it closes; the refusal to give its requests
    /// when it is over a limit.
    static func admitConnection(_ channel: any Channel, connections: ConnectionLimiter, audit: AuditLog) -> Refusal? {
        let ip = channel.remoteAddress?.ipAddress ?? "unknown"
        guard let refusal = connections.admit(ip: ip) else {
            channel.closeFuture.whenComplete { _ in connections.release(ip: ip) }
            return nil
        }
        let (status, error): (HTTPResponseStatus, ProtocolError) =
            switch refusal {
            case .node(let error): (.serviceUnavailable, error)
            case .address(let error): (.tooManyRequests, error)
            }
        audit.record("limit_hit", ["limit": "connections", "remote": ip, "reason": error.reason])
        return Refusal(status: status, error: error, headers: [("retry-after", "1")])
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        // Whatever happened, `handle(value:)` must not wait forever.
        kind.succeed(.handedOff)
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .done
        kind.succeed(.handedOff)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (state, part) {
        case (.awaitingHead, .head(let head)):
            requestPath = String(head.uri.prefix { $0 != "?" })
            if let refusal = overLimit {
                state = .awaitingEnd(.refuse(refusal))
                return
            }
            let isStream = StreamRoutes.isStreamPath(head.uri)
            // Host and duplicate headers before any origin rule (DNS rebinding); HTTP routes get the same checks from
            // the HTTPRequestGuard they are handed to.
            if isStream,
                let refusal = HTTPRequestGuard.headRefusal(head, hostPolicy: routes.hostPolicy, limits: services.settings.limits)
                    ?? routes.checkOrigin(head)
            {
                state = .awaitingEnd(.refuse(refusal))
                return
            }
            if isStream, let token = TokenSources.token(in: head) {
                state = .verifying(head, endReceived: false, quiescing: false)
                verify(token, context: context)
                return
            }
            let decision = fitWire(routes.decide(head))
            if case .http = decision {
                handToHTTP(context: context, head: head)
            } else {
                state = .awaitingEnd(decision)
            }
        case (.verifying(let head, _, let quiescing), .end):
            state = .verifying(head, endReceived: true, quiescing: quiescing)
        case (.awaitingEnd(let decision), .end):
            state = .done
            handshakeTimer?.cancel()
            carryOut(decision, context: context)
        case (.awaitingEnd, .body):
            break  // a body on a GET stream request is ignored
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard case .done = state else {
            state = .done
            handshakeTimer?.cancel()
            // HTTP parse errors: a head over limits.max_header_bytes or limits.max_header_count (431), garbage instead
            // of a request line (400).
            if let parseError = error as? HTTPParserError, parseError == .headerOverflow {
                refuse(HTTPRequestGuard.headTooLarge(services.settings.limits), context: context)
            } else {
                refuse(Refusal(status: .badRequest, error: ProtocolError(.badRequest, "malformed HTTP request")), context: context)
            }
            return
        }
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            switch state {
            case .awaitingHead:
                state = .done
                context.close(promise: nil)
                return
            case .verifying(let head, let endReceived, _):
                state = .verifying(head, endReceived: endReceived, quiescing: true)
                return
            case .awaitingEnd:
                // Its hand-off would miss the shutdown notice already sent to everyone else: refuse it instead.
                state = .awaitingEnd(
                    .refuse(
                        Refusal(
                            status: .serviceUnavailable, error: ProtocolError(.shuttingDown, "server is shutting down; retry"),
                            headers: [("retry-after", "1")])))
                return
            case .done:
                break
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Verifies a token that came with a stream request before anything is upgraded or streamed, so a bad token is
    /// answered with HTTP 401 and a JSON reason, never a 101 followed by a close.
    private func verify(_ token: String, context: ChannelHandlerContext) {
        let verifier = services.session.tokens
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        Task {
            let result = await verifier.connectionIdentity(token)
            loop.execute {
                let (router, context) = bound.value
                router.tokenVerified(result, context: context)
            }
        }
    }

    private func tokenVerified(_ result: Result<Identity?, ProtocolError>, context: ChannelHandlerContext) {
        guard case .verifying(let head, let endReceived, let quiescing) = state else { return }
        let decision: RouteDecision
        switch result {
        case .failure(let error):
            services.session.audit.record(
                "auth_failed", ["remote": context.channel.remoteAddress?.ipAddress, "code": String(error.code.rawValue), "reason": error.reason]
            )
            decision = .refuse(Refusal(status: .unauthorized, error: error, headers: [("www-authenticate", "Bearer")]))
        case .success(let identity):
            if quiescing {
                decision = .refuse(Refusal(status: .serviceUnavailable, error: ProtocolError(.shuttingDown, "server is shutting down; retry")))
            } else {
                var routes = self.routes
                routes.identity = identity
                decision = admitUser(identity, fitWire(routes.decide(head)), context: context)
            }
        }
        if endReceived {
            state = .done
            handshakeTimer?.cancel()
            carryOut(decision, context: context)
        } else {
            state = .awaitingEnd(decision)
        }
    }

    /// WebSocket runs over HTTP/1.1 only: extended CONNECT over HTTP/2 (RFC 8441) is not offered, so browsers open
    /// their WebSocket connections with HTTP/1.1 (ALPN), and an HTTP/2 request for one gets a clear refusal.
    private func fitWire(_ decision: RouteDecision) -> RouteDecision {
        guard case .http2Stream = wire, case .webSocket = decision else { return decision }
        return .refuse(
            Refusal(
                status: .upgradeRequired,
                error: ProtocolError(.upgradeRequired, "WebSocket needs HTTP/1.1 here: this server does not support RFC 8441")
            ))
    }

    /// Counts the user of a stream that is about to be handed off against the per-user limit (the session releases it).
    private func admitUser(_ identity: Identity?, _ decision: RouteDecision, context: ChannelHandlerContext) -> RouteDecision {
        guard let user = identity?.user else { return decision }
        switch decision {
        case .webSocket, .sse:
            if let error = services.session.connections.admit(user: user) {
                services.session.audit.record("limit_hit", ["limit": "connections_per_user", "user": user])
                return .refuse(Refusal(status: .tooManyRequests, error: error, headers: [("retry-after", "1")]))
            }
            return decision
        case .http, .refuse:
            return decision
        }
    }

    private func handshakeTimedOut(context: ChannelHandlerContext) {
        guard case .done = state else {
            state = .done
            refuse(
                Refusal(status: .requestTimeout, error: ProtocolError(.badRequest, "request not completed within the handshake timeout")),
                context: context)
            return
        }
    }

    private func carryOut(_ decision: RouteDecision, context: ChannelHandlerContext) {
        switch decision {
        case .http:
            preconditionFailure("HTTP requests are handed over at their head")
        case .refuse(let refusal):
            refuse(refusal, context: context)
        case .webSocket(let mode, let acceptHeaders, let identity):
            upgrade(mode: mode, acceptHeaders: acceptHeaders, identity: identity, context: context)
        case .sse(let stream):
            startStream(stream, context: context)
        }
    }

    // MARK: hand-offs

    private func setWatermarks(context: ChannelHandlerContext) {
        // HTTP/2 streams take their watermarks from the connection's stream configuration (`HTTP2Connection`); setting
        // the option on a stream channel traps.
        if case .http2Stream = wire { return }
        let high = services.settings.limits.writeBufferHighWaterBytes
        let low = services.settings.limits.writeBufferLowWaterBytes
        try? context.channel.syncOptions?.setOption(ChannelOptions.writeBufferWaterMark, value: .init(low: low, high: high))
    }

    private func upgrade(mode: WebSocketMode, acceptHeaders: [(String, String)], identity: Identity?, context: ChannelHandlerContext) {
        var response = "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n"
        for (name, value) in acceptHeaders { response += "\(name): \(value)\r\n" }
        response += "\r\n"
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: response)), promise: nil)
        setWatermarks(context: context)
        do {
            let pipeline = context.pipeline.syncOperations
            let handlers: [any ChannelHandler] = [
                // No WebSocketFrameEncoder and no WebSocketProtocolErrorHandler: the connection handler writes frames as
                // bytes (shared across subscribers) and answers decoding errors with its own close frames.
                ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: services.settings.limits.maxMessageBytes)),
                WebSocketConnectionHandler(
                    mode: mode, services: services, identity: identity, deflate: PerMessageDeflate.agreement(in: acceptHeaders),
                    messagePack: mode.sendsBinary
                        || acceptHeaders.contains { $0.0 == "sec-websocket-protocol" && $0.1 == ProtocolVersion.messagePackSubprotocol }
                ),
            ]
            try pipeline.addHandlers(handlers, position: .after(self))
            pipeline.removeHandler(context: context, promise: nil)
            // Bytes the client sent after its request (its first frames) are passed on to the frame decoder.
            if case .http1(let requestDecoder, _) = wire { pipeline.removeHandler(requestDecoder, promise: nil) }
        } catch {
            logger.error("WebSocket hand-off failed: \(error)")
            context.close(promise: nil)
        }
    }

    private func startStream(_ stream: SSESessionHandler.Stream, context: ChannelHandlerContext) {
        setWatermarks(context: context)
        do {
            let pipeline = context.pipeline.syncOperations
            try prepareForResponseBytes(context: context)
            try pipeline.addHandler(SSESessionHandler(stream: stream, services: services), position: .after(self))
            pipeline.removeHandler(context: context, promise: nil)
            if case .http1(let requestDecoder, _) = wire { pipeline.removeHandler(requestDecoder, promise: nil) }
        } catch {
            logger.error("SSE hand-off failed: \(error)")
            context.close(promise: nil)
        }
    }

    private func handToHTTP(context: ChannelHandlerContext, head: HTTPRequestHead) {
        state = .done
        handshakeTimer?.cancel()
        do {
            let pipeline = context.pipeline.syncOperations
            switch wire {
            case .http1(_, let secure):
                try pipeline.addHandlers(
                    [
                        HTTPResponseEncoder(),
                        HTTPRequestGuard(hostPolicy: routes.hostPolicy, settings: services.settings, metrics: services.metrics),
                        HTTP1ToHTTPServerCodec(secure: secure),
                        HTTPConnectionStateHandler(idleTimeout: .seconds(60), logger: logger),
                    ],
                    position: .after(self)
                )
            case .http2Stream:
                // One request per stream: no keep-alive redirects; the stream codec already speaks HTTP/1 parts.
                try pipeline.addHandlers(
                    [
                        HTTPRequestGuard(hostPolicy: routes.hostPolicy, settings: services.settings, metrics: services.metrics),
                        HTTP1ToHTTPServerCodec(secure: true),
                        HTTPConnectionStateHandler(idleTimeout: .seconds(60), logger: logger),
                    ],
                    position: .after(self)
                )
            }
            let asyncChannel = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                wrappingChannelSynchronously: context.channel,
                configuration: .init(isOutboundHalfClosureEnabled: true)
            )
            kind.succeed(.http(asyncChannel))
            context.fireChannelRead(wrapInboundOut(.head(head)))
            pipeline.removeHandler(context: context, promise: nil)
        } catch {
            logger.error("HTTP hand-off failed: \(error)")
            context.close(promise: nil)
        }
    }

    /// Refusals and SSE write an HTTP/1.1 response as bytes; on an HTTP/2 stream an adapter turns them into frames.
    private func prepareForResponseBytes(context: ChannelHandlerContext) throws {
        guard case .http2Stream = wire else { return }
        try context.pipeline.syncOperations.addHandler(HTTP2StreamResponseWriter(), position: .before(self))
    }

    /// Answers with a JSON reason and closes: the one place pre-upgrade refusals are written.
    private func refuse(_ refusal: Refusal, context: ChannelHandlerContext) {
        services.metrics.refused(refusal.error.code)
        var metadata: Logger.Metadata = [
            "request_id": .string(SessionID.make()), "status": .stringConvertible(refusal.status.code),
            "code": .stringConvertible(refusal.error.code.rawValue), "error": .string(refusal.error.code.name),
            "reason": .string(refusal.error.reason),
        ]
        if let requestPath { metadata["path"] = .string(requestPath) }
        if let remote = context.channel.remoteAddress?.ipAddress { metadata["remote"] = .string(remote) }
        logger.notice("request refused", metadata: metadata)
        let body = Pushes.httpError(refusal.error) { writer in
            if let supported = refusal.supportedSubprotocols {
                writer.key("supported")
                writer.beginArray()
                for name in supported { writer.string(name) }
                writer.endArray()
            }
        }
        var head = "HTTP/1.1 \(refusal.status.code) \(refusal.status.reasonPhrase)\r\ncontent-type: application/json\r\n"
        // A header sent with `Upgrade` is named in `Connection` too, so proxies do not forward it (RFC 9110 §7.8).
        let connection = refusal.headers.contains { $0.0 == "upgrade" } ? "close, upgrade" : "close"
        head += "content-length: \(body.readableBytes)\r\nconnection: \(connection)\r\n"
        for (name, value) in refusal.headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        var response = context.channel.allocator.buffer(capacity: head.utf8.count + body.readableBytes)
        response.writeString(head)
        response.writeImmutableBuffer(body)
        do {
            try prepareForResponseBytes(context: context)
        } catch {
            context.close(promise: nil)
            return
        }
        ConnectionClosing.close(context: context, after: NIOAny(response), timeout: .seconds(1))
    }
}

/// Hummingbird's child channel for Switchboard: every connection starts with a ``ConnectionRouter``.
struct SwitchboardChildChannel: ServerChildChannel, HTTPChannelHandler {
    struct Value: ServerChildChannelValue {
        let channel: any Channel
        let kind: EventLoopFuture<ConnectionKind>
    }

    let responder: HTTPChannelHandler.Responder
    let routes: StreamRoutes
    let services: StreamServices
    /// Whether the connection runs under TLS (``SecureChildChannel`` sets it up this way after ALPN chose HTTP/1.1).
    var secure = false

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let kind = channel.eventLoop.makePromise(of: ConnectionKind.self)
            let decoder = ByteToMessageHandler(
                HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes, limitConfiguration: Self.headLimits(services.settings.limits)))
            try channel.pipeline.syncOperations.addHandler(decoder)
            try channel.pipeline.syncOperations.addHandler(
                ConnectionRouter(
                    routes: routes, services: services, wire: .http1(requestDecoder: decoder, secure: secure), kind: kind, logger: logger))
            return Value(channel: channel, kind: kind.futureResult)
        }
    }

    /// One limit for request heads on every route: NIO's parser refuses a head over it before routing (431).
    static func headLimits(_ limits: HubConfiguration.Limits) -> NIOHTTPDecoderLimitConfiguration {
        var configuration = NIOHTTPDecoderLimitConfiguration()
        configuration.maxHeaderFieldSize = limits.maxHeaderBytes
        configuration.maxHeaderListSize = limits.maxHeaderBytes
        configuration.maxHeaderFieldCount = limits.maxHeaderCount
        return configuration
    }

    func handle(value: Value, logger: Logger) async {
        // Handed-off connections return at once: no Swift task lives as long as a WebSocket or SSE connection.
        guard case .http(let asyncChannel)? = try? await value.kind.get() else { return }
        await handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}

@available(*, unavailable) extension ConnectionRouter: Sendable {}

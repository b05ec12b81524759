import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP2

/// An HTTP/2 connection negotiated by ALPN: each stream gets its own ``ConnectionRouter``, exactly as an HTTP/1.1
/// connection's first request does. SSE streams and refusals are handed to classic NIO handlers (no Swift task per
/// stream once handed off); API requests run Hummingbird's router on the stream.
///
/// Unlike HTTP/1.1 there is no "first request only" rule: every stream is a fresh request, so a browser's many
/// `EventSource`s share one TCP+TLS connection (up to the advertised 100 concurrent streams).
enum HTTP2Connection {
    typealias Streams = NIOHTTP2Handler.AsyncStreamMultiplexer<SwitchboardChildChannel.Value>

    /// Installs the HTTP/2 handler, the stream multiplexer and connection management (GOAWAY on graceful shutdown,
    /// idle close) on a channel whose ALPN chose `h2`.
    static func configure(_ channel: any Channel, base: SwitchboardChildChannel, logger: Logger) throws -> Streams {
        let (routes, services) = (base.routes, base.services)
        // One TCP connection, counted once against the connection limits; an over-limit answer goes to every stream.
        let overLimit = ConnectionRouter.admitConnection(channel, connections: services.session.connections, audit: services.session.audit)
        let management = NIOHTTP2ServerConnectionManagementHandler(
            eventLoop: channel.eventLoop,
            configuration: .init(
                // Like the HTTP/1.1 keep-alive timeout: a connection without streams is closed after a minute.
                maxIdleTime: .seconds(60),
                maxAge: nil,
                // Streams were told to end when the shutdown began; this only bounds a peer that never lets them.
                maxGraceTime: services.settings.drainTimeout + .seconds(1),
                keepalive: nil
            )
        )
        var configuration = NIOHTTP2Handler.Configuration()
        // A stream turns unwritable at the same bound as an HTTP/1.1 connection, so the slow-consumer policy
        // (`OutboundPipe`) applies per SSE stream. The stream's flow-control window adds at most 64 KiB in flight.
        configuration.stream.outboundBufferSizeHighWatermark = services.settings.limits.writeBufferHighWaterBytes
        configuration.stream.outboundBufferSizeLowWatermark = services.settings.limits.writeBufferLowWaterBytes
        let sync = channel.pipeline.syncOperations
        let streams = try sync.configureAsyncHTTP2Pipeline(
            mode: .server, streamDelegate: management.http2StreamDelegate, configuration: configuration
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                let kind = stream.eventLoop.makePromise(of: ConnectionKind.self)
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                try stream.pipeline.syncOperations.addHandler(
                    ConnectionRouter(routes: routes, services: services, wire: .http2Stream(overLimit: overLimit), kind: kind, logger: logger))
                return SwitchboardChildChannel.Value(channel: stream, kind: kind.futureResult)
            }
        }
        try sync.addHandler(management)
        try sync.addHandler(HTTP2ConnectionCloser(shutdownBound: services.settings.drainTimeout + .seconds(1)))
        return streams
    }

    /// Runs while the connection is open: one short task per stream until its router decides; HTTP requests keep
    /// theirs until answered, handed-off streams return at once.
    static func serve(_ streams: Streams, base: SwitchboardChildChannel, logger: Logger) async {
        do {
            try await withThrowingDiscardingTaskGroup { group in
                for try await stream in streams.inbound {
                    group.addTask { await base.handle(value: stream, logger: logger) }
                }
            }
        } catch {
            logger.debug("HTTP/2 connection ended: \(error)")
        }
    }
}

/// Ends an HTTP/2 connection where its management handler may not: when the peer closed its side (TLS close_notify
/// or FIN; half-closure is on, HTTP/2 cannot go on one-way, and without this the peer's TLS shutdown waits for its
/// timeout), and during graceful shutdown once its last stream has ended. NIO's handler closes only after the peer
/// acknowledged a PING sent with the first GOAWAY; in about one shutdown in ten that never completed here and SIGTERM
/// waited forever (`TLSTests.gracefulShutdownEndsSSEStreamsOverHTTP2`). A hard bound (drain timeout + 1 s) covers
/// streams that never end.
private final class HTTP2ConnectionCloser: ChannelInboundHandler {
    typealias InboundIn = Any
    private let shutdownBound: TimeAmount
    private var openStreams: Set<HTTP2StreamID> = []
    private var quiescing = false
    private var shutdownTimer: Scheduled<Void>?

    init(shutdownBound: TimeAmount) { self.shutdownBound = shutdownBound }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let event as ChannelEvent where event == .inputClosed:
            context.close(promise: nil)
        case let created as NIOHTTP2StreamCreatedEvent:
            openStreams.insert(created.streamID)
        case let closed as StreamClosedEvent:
            openStreams.remove(closed.streamID)
            closeIfDrained(context: context)
        case is ChannelShouldQuiesceEvent where !quiescing:
            quiescing = true
            let channel = context.channel
            shutdownTimer = context.eventLoop.scheduleTask(in: shutdownBound) { channel.close(promise: nil) }
            closeIfDrained(context: context)
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        shutdownTimer?.cancel()
        context.fireChannelInactive()
    }

    private func closeIfDrained(context: ChannelHandlerContext) {
        guard quiescing, openStreams.isEmpty else { return }
        // One loop tick later, so the frames that ended the last stream (and the GOAWAY) are flushed first.
        let channel = context.channel
        context.eventLoop.execute { channel.close(promise: nil) }
    }
}

@available(*, unavailable) extension HTTP2ConnectionCloser: Sendable {}

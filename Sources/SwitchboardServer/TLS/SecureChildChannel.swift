import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// Switchboard's child channel under TLS: the TLS handshake, then ALPN picks HTTP/2 (SSE and the HTTP API, many
/// streams on one connection) or HTTP/1.1 (WebSocket upgrades, and clients without HTTP/2), which is then served
/// exactly like a plain connection by ``SwitchboardChildChannel``.
struct SecureChildChannel: ServerChildChannel, HTTPChannelHandler {
    enum Negotiated: Sendable {
        case http1(SwitchboardChildChannel.Value)
        case http2(HTTP2Connection.Streams)
    }

    struct Value: ServerChildChannelValue {
        let channel: any Channel
        let negotiated: EventLoopFuture<Negotiated>
    }

    let base: SwitchboardChildChannel
    let sslContext: NIOSSLContext

    var responder: HTTPChannelHandler.Responder { base.responder }

    init(responder: @escaping HTTPChannelHandler.Responder, routes: StreamRoutes, services: StreamServices, sslContext: NIOSSLContext) {
        self.base = SwitchboardChildChannel(responder: responder, routes: routes, services: services, secure: true)
        self.sslContext = sslContext
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(NIOSSLServerHandler(context: sslContext))
            let alpn = NIOTypedApplicationProtocolNegotiationHandler<Negotiated> { result, channel in
                switch result {
                case .negotiated("h2"):
                    return channel.eventLoop.makeCompletedFuture {
                        .http2(try HTTP2Connection.configure(channel, base: base, logger: logger))
                    }
                case .negotiated("http/1.1"), .fallback:
                    return base.setup(channel: channel, logger: logger).map { .http1($0) }
                case .negotiated(let other):
                    // Only offered protocols can be negotiated; anything else is a broken peer.
                    channel.close(promise: nil)
                    return channel.eventLoop.makeFailedFuture(UnexpectedALPN(protocolName: other))
                }
            }
            let errorCloser = TLSErrorCloser()
            try sync.addHandler(alpn)
            try sync.addHandler(errorCloser)
            // The router's handshake timeout starts once the protocol is known; this bounds the TLS handshake itself,
            // so a client that opens a socket and never completes TLS is closed, too.
            let timeout = base.services.settings.handshakeTimeout
            let timer = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
            let negotiated = alpn.protocolNegotiationResult
            let loopCloser = NIOLoopBound(errorCloser, eventLoop: channel.eventLoop)
            negotiated.whenComplete { result in
                timer.cancel()
                // From here on the routers and stream handlers see (and answer) errors themselves.
                if case .success = result { channel.pipeline.syncOperations.removeHandler(loopCloser.value, promise: nil) }
            }
            return Value(channel: channel, negotiated: negotiated)
        }
    }

    func handle(value: Value, logger: Logger) async {
        switch try? await value.negotiated.get() {
        case .http1(let connection)?:
            await base.handle(value: connection, logger: logger)
        case .http2(let streams)?:
            await HTTP2Connection.serve(streams, base: base, logger: logger)
        case nil:
            // The handshake failed or timed out; the channel is closed already.
            break
        }
    }
}

struct UnexpectedALPN: Error {
    let protocolName: String
}

/// Closes a connection whose TLS handshake failed (plain HTTP sent to the TLS port, garbage, a client that does not
/// trust the certificate) without logging it as a server error; removed once the protocol has been negotiated.
private final class TLSErrorCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Any

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable) extension TLSErrorCloser: Sendable {}

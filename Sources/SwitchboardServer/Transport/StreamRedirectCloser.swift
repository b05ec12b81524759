import NIOCore
import NIOHTTP1

/// Closes a keep-alive connection after the router has redirected a stream request (SSE or WebSocket) that arrived
/// on it: stream endpoints are served only on a connection's first request, so the redirected client must come back
/// on a new connection. Hummingbird does not close on a `connection: close` response header by itself.
final class StreamRedirectCloser: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// One entry per request read and not yet answered (requests may be pipelined): whether to close after its
    /// response.
    private var closeAfterResponses = CircularBuffer<Bool>()

    static func isStreamPath(_ uri: String) -> Bool {
        let path = URLParts.split(uri).path
        return path == "/connection/sse" || path == "/connection/websocket" || path.hasPrefix("/raw/sse/") || path.hasPrefix("/raw/ws/")
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            closeAfterResponses.append(Self.isStreamPath(head.uri))
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data), closeAfterResponses.popFirst() == true else {
            context.write(data, promise: promise)
            return
        }
        let written = promise ?? context.eventLoop.makePromise()
        context.write(data, promise: written)
        let channel = context.channel
        written.futureResult.whenComplete { _ in channel.close(promise: nil) }
    }
}

@available(*, unavailable) extension StreamRedirectCloser: Sendable {}

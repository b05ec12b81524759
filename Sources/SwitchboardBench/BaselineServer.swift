import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A bare SwiftNIO WebSocket server, the baseline for Switchboard's memory per connection: it upgrades every request
/// (any path), answers pings and close frames, and holds nothing else per connection. Whatever Switchboard's RSS per
/// connection exceeds this by is the hub's own state (sessions, subscriptions, queues).
///
/// Other requests get 404, so `switchboard bench --target nchan` (established = handshake done) can connect to it;
/// its publications are refused, which is fine for a memory-only run.
public enum BaselineServer {
    public static func run(host: String, port: Int) async throws {
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: 1 << 16,
            shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(BaselineFrameHandler()) }
            }
        )
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.backlog, value: 4096)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let notFound = NotFoundHandler()
                    // The upgrade completes on this channel's loop, where the handler lives.
                    let loopBoundNotFound = NIOLoopBound(notFound, eventLoop: channel.eventLoop)
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (
                            upgraders: [upgrader],
                            completionHandler: { context in context.pipeline.syncOperations.removeHandler(loopBoundNotFound.value, promise: nil) }
                        )
                    )
                    try channel.pipeline.syncOperations.addHandler(notFound)
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        try await channel.closeFuture.get()
    }
}

private final class BaselineFrameHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            context.close(promise: nil)
        default:
            break
        }
    }
}

private final class NotFoundHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let head = HTTPResponseHead(version: .http1_1, status: .notFound, headers: ["content-length": "0"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

@available(*, unavailable) extension BaselineFrameHandler: Sendable {}
@available(*, unavailable) extension NotFoundHandler: Sendable {}

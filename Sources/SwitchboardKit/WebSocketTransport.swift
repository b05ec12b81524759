import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// Opens one WebSocket to `/connection/websocket` with the subprotocol `switchboard.v1.json`, on NIO's typed HTTP
/// upgrade (the accept value is checked by `NIOTypedWebSocketClientUpgrader`).
enum WebSocketTransport {
    typealias Connection = NIOAsyncChannel<WebSocketFrame, WebSocketFrame>

    struct Endpoint: Sendable, Equatable {
        var host: String
        var port: Int
        /// The WebSocket endpoint's path.
        var path: String
        /// `wss://` or `https://`: the connections speak TLS.
        var secure = false

        /// What comes before `/connection/…` for the SSE endpoints: the WebSocket path without
        /// `/connection/websocket` (a hub behind a path prefix), else nothing.
        var ssePrefix: String {
            path.hasSuffix("/connection/websocket") ? String(path.dropLast("/connection/websocket".count)) : ""
        }
    }

    struct Refused: Error, CustomStringConvertible {
        var description: String { "the server did not upgrade to WebSocket" }
    }

    private enum UpgradeResult: Sendable {
        case websocket(Connection)
        case notUpgraded
    }

    /// - Parameters:
    ///   - maxFrameSize: the largest frame accepted from the server.
    ///   - silenceLimit: the connection is closed when nothing arrives for this long (a dead link nobody closed).
    ///   - connectTimeout: bounds the TCP connection, and then the TLS handshake and the upgrade together.
    static func connect(
        to endpoint: Endpoint, tls: Switchboard.TLS?, maxFrameSize: Int, silenceLimit: Duration, connectTimeout: Duration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> Connection {
        let upgrade: EventLoopFuture<UpgradeResult> = try await ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(TimeAmount.nanoseconds(Self.inNanoseconds(connectTimeout)))
            .connect(host: endpoint.host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try tls.makeHandler(host: endpoint.host)) }
                    let upgrader = NIOTypedWebSocketClientUpgrader<UpgradeResult>(
                        maxFrameSize: maxFrameSize,
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                let idle = IdleStateHandler(readTimeout: .nanoseconds(Self.inNanoseconds(silenceLimit)))
                                try channel.pipeline.syncOperations.addHandlers([idle, CloseWhenSilentHandler<WebSocketFrame>()])
                                return UpgradeResult.websocket(try Connection(wrappingChannelSynchronously: channel))
                            }
                        })
                    var headers = HTTPHeaders()
                    headers.add(name: "host", value: "\(endpoint.host):\(endpoint.port)")
                    headers.add(name: "sec-websocket-protocol", value: "switchboard.v1.json")
                    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: endpoint.path, headers: headers)
                    let configuration = NIOTypedHTTPClientUpgradeConfiguration(
                        upgradeRequestHead: head, upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in
                            channel.close(promise: nil)
                            return channel.eventLoop.makeSucceededFuture(UpgradeResult.notUpgraded)
                        })
                    let upgraded = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: .init(upgradeConfiguration: configuration))
                    // The TLS handshake and the upgrade get `connectTimeout` too: a link that swallows them would
                    // otherwise hold the attempt forever (the silence watch starts with the WebSocket).
                    let deadline = channel.eventLoop.scheduleTask(in: .nanoseconds(Self.inNanoseconds(connectTimeout))) {
                        channel.close(promise: nil)
                    }
                    upgraded.whenComplete { _ in deadline.cancel() }
                    return upgraded
                }
            }
        switch try await upgrade.get() {
        case .websocket(let connection): return connection
        case .notUpgraded: throw Refused()
        }
    }

    static func inNanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }
}

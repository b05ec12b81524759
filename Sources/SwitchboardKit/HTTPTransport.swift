import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP/1.1 request per connection (`connection: close`), the whole answer read: what the publisher needs, with
/// nothing kept between requests that a dropped link could leave half-used.
enum HTTPTransport {
    struct Response: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: ByteBuffer
    }

    /// The connection ended before a complete answer (dropped by the network or a proxy).
    struct NoAnswer: Error, CustomStringConvertible {
        var description: String { "the connection ended before a complete answer" }
    }

    /// - Parameter timeout: the request fails when nothing arrives for this long.
    static func request(
        host: String, port: Int, tls: Switchboard.TLS?, method: HTTPMethod, path: String, headers: [(String, String)],
        body: ByteBuffer?, timeout: Duration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> Response {
        let nanoseconds = WebSocketTransport.inNanoseconds(timeout)
        let channel = try await ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.nanoseconds(nanoseconds))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try tls.makeHandler(host: host)) }
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: .nanoseconds(nanoseconds)), CloseWhenSilentHandler<ByteBuffer>(),
                    ])
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
            head.headers.add(name: "host", value: "\(host):\(port)")
            head.headers.add(name: "connection", value: "close")
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            if let body { head.headers.add(name: "content-length", value: "\(body.readableBytes)") }
            try await outbound.write(.head(head))
            if let body { try await outbound.write(.body(.byteBuffer(body))) }
            try await outbound.write(.end(nil))
            var response: Response?
            for try await part in inbound {
                switch part {
                case .head(let head):
                    response = Response(status: Int(head.status.code), headers: head.headers, body: ByteBuffer())
                case .body(var bytes):
                    response?.body.writeBuffer(&bytes)
                case .end:
                    if let response { return response }
                }
            }
            throw NoAnswer()
        }
    }
}

public import NIOCore
import NIOHTTP1
import NIOHTTP2
public import NIOPosix
import NIOSSL
import NIOTLS

/// A minimal HTTP/2 client over TLS, used as a browser uses HTTP/2: many requests and event streams on one
/// connection. ALPN must choose `h2`, or ``connect(host:port:tls:group:)`` fails.
public final class HTTP2Client: Sendable {
    public let channel: any Channel
    private let streams: NIOHTTP2Handler.AsyncStreamMultiplexer<Void>
    private let authority: String

    private init(channel: any Channel, streams: NIOHTTP2Handler.AsyncStreamMultiplexer<Void>, authority: String) {
        self.channel = channel
        self.streams = streams
        self.authority = authority
    }

    /// Connects, completes the TLS handshake and checks that the server agreed to HTTP/2.
    public static func connect(
        host: String, port: Int, tls: ClientTLS, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> HTTP2Client {
        let (channel, streams, negotiated) = try await ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    let negotiated = channel.eventLoop.makePromise(of: String?.self)
                    try sync.addHandler(try tls.makeHandler(offering: ["h2"]))
                    try sync.addHandler(NegotiatedProtocolRecorder(negotiated: negotiated))
                    let streams = try sync.configureAsyncHTTP2Pipeline(mode: .client) { stream in stream.eventLoop.makeSucceededVoidFuture() }
                    return (channel, streams, negotiated.futureResult)
                }
            }
        guard try await negotiated.get() == "h2" else {
            try? await channel.close()
            throw HTTPRefusal(status: 0, body: "the server did not negotiate h2 in ALPN")
        }
        return HTTP2Client(channel: channel, streams: streams, authority: "\(host):\(port)")
    }

    /// One request on a new stream; the whole response read.
    public func request(_ method: String, path: String, headers: [(String, String)] = [], body: ByteBuffer? = nil) async throws
        -> HTTPClient.Response
    {
        let (connection, head) = try await open(method, path: path, headers: headers, body: body)
        var reader = connection.reader()
        let payload = await reader.readToEnd()
        return HTTPClient.Response(status: head.status, head: head, body: payload)
    }

    /// An event stream on a new stream of this connection; throws ``HTTPRefusal`` unless the server answers 200.
    /// Closing the returned client resets only its stream.
    public func eventStream(path: String, lastEventID: String? = nil, headers: [(String, String)] = []) async throws -> SSEClient {
        var requestHeaders = [("accept", "text/event-stream")]
        if let lastEventID { requestHeaders.append(("last-event-id", lastEventID)) }
        let (connection, head) = try await open("GET", path: path, headers: requestHeaders + headers, body: nil)
        var reader = connection.reader()
        guard head.status == 200 else {
            let body = await reader.readToEnd()
            await connection.close()
            throw HTTPRefusal(status: head.status, body: String(decoding: body.readableBytesView, as: UTF8.self), head: head)
        }
        return SSEClient(connection: connection, head: head, reader: reader)
    }

    public func close() async {
        try? await channel.close()
    }

    /// Opens a stream, sends the request and waits for the response head; the body arrives on the connection.
    private func open(_ method: String, path: String, headers: [(String, String)], body: ByteBuffer?) async throws
        -> (ByteConnection, HTTPResponseHead)
    {
        let (bodyStream, continuation) = AsyncStream<ByteBuffer>.makeStream()
        let (stream, responseHead) = try await streams.openStream { stream in
            stream.eventLoop.makeCompletedFuture {
                let head = stream.eventLoop.makePromise(of: NIOHTTP1.HTTPResponseHead.self)
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .https))
                try stream.pipeline.syncOperations.addHandler(ResponseForwarder(head: head, continuation: continuation))
                return (stream, head.futureResult)
            }
        }
        var requestHead = HTTPRequestHead(version: .http2, method: HTTPMethod(rawValue: method), uri: path)
        requestHead.headers.add(name: "host", value: authority)
        for (name, value) in headers { requestHead.headers.add(name: name.lowercased(), value: value) }
        if let body { requestHead.headers.add(name: "content-length", value: String(body.readableBytes)) }
        stream.write(HTTPClientRequestPart.head(requestHead), promise: nil)
        if let body { stream.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
        try await stream.writeAndFlush(HTTPClientRequestPart.end(nil))
        let head = try await responseHead.get()
        let converted = HTTPResponseHead(
            status: Int(head.status.code), headers: head.headers.map { (name: $0.name, value: $0.value) })
        return (ByteConnection.wrapping(stream, stream: bodyStream), converted)
    }
}

/// Remembers which protocol ALPN chose (nil: none) once the TLS handshake completes.
private final class NegotiatedProtocolRecorder: ChannelInboundHandler {
    typealias InboundIn = Any
    private let negotiated: EventLoopPromise<String?>

    init(negotiated: EventLoopPromise<String?>) { self.negotiated = negotiated }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted(let name) = event { negotiated.succeed(name) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        negotiated.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        negotiated.fail(ChannelError.eof)
        context.fireChannelInactive()
    }
}

/// Hands a stream's response head to a promise and its body bytes to an `AsyncStream`.
private final class ResponseForwarder: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    private let head: EventLoopPromise<NIOHTTP1.HTTPResponseHead>
    private let continuation: AsyncStream<ByteBuffer>.Continuation

    init(head: EventLoopPromise<NIOHTTP1.HTTPResponseHead>, continuation: AsyncStream<ByteBuffer>.Continuation) {
        self.head = head
        self.continuation = continuation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let response): head.succeed(response)
        case .body(let bytes): continuation.yield(bytes)
        case .end: continuation.finish()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        head.fail(ChannelError.eof)
        continuation.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        head.fail(error)
        continuation.finish()
        context.close(promise: nil)
    }
}

@available(*, unavailable) extension NegotiatedProtocolRecorder: Sendable {}
@available(*, unavailable) extension ResponseForwarder: Sendable {}

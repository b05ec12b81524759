public import NIOCore
public import NIOPosix
import NIOSSL

/// A TCP connection whose received bytes arrive as an `AsyncStream`, the base of the HTTP, WebSocket and SSE clients.
///
/// Deliberately byte-level: tests use it to send exactly the malformed or hostile input they mean to send.
public final class ByteConnection: Sendable {
    public let channel: any Channel
    private let stream: AsyncStream<ByteBuffer>

    private init(channel: any Channel, stream: AsyncStream<ByteBuffer>) {
        self.channel = channel
        self.stream = stream
    }

    /// - Parameter tls: speak TLS (offering HTTP/1.1 in ALPN) when set; the bytes read and written are then the
    ///   plaintext inside it.
    public static func connect(
        host: String, port: Int, tls: ClientTLS? = nil, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> ByteConnection {
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
        let channel = try await ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try tls.makeHandler(offering: ["http/1.1"])) }
                    try channel.pipeline.syncOperations.addHandler(ForwardingHandler(continuation: continuation))
                }
            }
            .connect(host: host, port: port)
            .get()
        return ByteConnection(channel: channel, stream: stream)
    }

    /// Wraps a channel whose received bytes some other handler yields to `stream` (an HTTP/2 stream's body).
    static func wrapping(_ channel: any Channel, stream: AsyncStream<ByteBuffer>) -> ByteConnection {
        ByteConnection(channel: channel, stream: stream)
    }

    /// A reader over the received bytes. Make one per connection and use it from one task.
    public func reader() -> ByteReader { ByteReader(iterator: stream.makeAsyncIterator()) }

    public func write(_ bytes: ByteBuffer) async throws {
        try await channel.writeAndFlush(bytes)
    }

    public func write(_ text: String) async throws {
        try await write(ByteBuffer(string: text))
    }

    public func write(_ bytes: [UInt8]) async throws {
        try await write(ByteBuffer(bytes: bytes))
    }

    /// Stops or resumes reading from the socket; a connection that stops reading is a slow consumer.
    public func setReading(_ reading: Bool) async throws {
        try await channel.setOption(ChannelOptions.autoRead, value: reading).get()
        if reading { channel.read() }
    }

    public func close() async {
        try? await channel.close()
    }
}

private final class ForwardingHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let continuation: AsyncStream<ByteBuffer>.Continuation

    init(continuation: AsyncStream<ByteBuffer>.Continuation) { self.continuation = continuation }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Buffered reads over a connection's byte stream.
public struct ByteReader {
    var iterator: AsyncStream<ByteBuffer>.Iterator
    var buffer = ByteBuffer()
    public private(set) var isAtEnd = false

    init(iterator: AsyncStream<ByteBuffer>.Iterator) { self.iterator = iterator }

    /// Reads more bytes into the buffer; false at end of stream.
    mutating func fill() async -> Bool {
        guard !isAtEnd, var more = await iterator.next() else {
            isAtEnd = true
            return false
        }
        buffer.writeBuffer(&more)
        return true
    }

    /// Bytes up to (and without) `delimiter`, consuming the delimiter; nil if the stream ends first.
    public mutating func read(until delimiter: String) async -> ByteBuffer? {
        let pattern = Array(delimiter.utf8)
        while true {
            if let index = buffer.readableBytesView.firstRange(of: pattern) {
                let length = index.lowerBound - buffer.readableBytesView.startIndex
                let slice = buffer.readSlice(length: length)
                buffer.moveReaderIndex(forwardBy: pattern.count)
                return slice
            }
            guard await fill() else { return nil }
        }
    }

    public mutating func read(exactly count: Int) async -> ByteBuffer? {
        while buffer.readableBytes < count {
            guard await fill() else { return nil }
        }
        return buffer.readSlice(length: count)
    }

    /// Everything until the peer closes.
    public mutating func readToEnd() async -> ByteBuffer {
        while await fill() {}
        return buffer.readSlice(length: buffer.readableBytes) ?? ByteBuffer()
    }
}

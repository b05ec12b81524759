import NIOCore
import NIOHTTP1
import NIOPosix

/// Opens a `/connection/sse` stream (protocol.md §8) and reads its events; the driver sends the request and its
/// commands (`POST /connection/SESSION/command`).
enum SSETransport {
    typealias Connection = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    /// - Parameter silenceLimit: the stream is closed when nothing arrives for this long (the server sends a heartbeat
    ///   comment every `heartbeat.interval_ms`, protocol.md §7).
    static func open(
        to endpoint: WebSocketTransport.Endpoint, tls: Switchboard.TLS?, silenceLimit: Duration, connectTimeout: Duration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> Connection {
        try await ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.nanoseconds(WebSocketTransport.inNanoseconds(connectTimeout)))
            .connect(host: endpoint.host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try tls.makeHandler(host: endpoint.host)) }
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: .nanoseconds(WebSocketTransport.inNanoseconds(silenceLimit))),
                        CloseWhenSilentHandler<ByteBuffer>(),
                    ])
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
    }

    /// The stream request: no channel in the URL, since the client subscribes by command with its own positions.
    static func streamRequest(_ endpoint: WebSocketTransport.Endpoint) -> HTTPRequestHead {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: endpoint.ssePrefix + "/connection/sse")
        head.headers.add(name: "host", value: "\(endpoint.host):\(endpoint.port)")
        head.headers.add(name: "accept", value: "text/event-stream")
        return head
    }

    /// Splits the stream into events and returns the data of each (`data:` lines joined by `\n`), as EventSource does;
    /// comments (heartbeats), `id:`, `event:` and `retry:` lines are not needed by this client.
    struct EventParser {
        private var pending = ByteBuffer()
        private var data: ByteBuffer?

        mutating func feed(_ bytes: ByteBuffer) -> [ByteBuffer] {
            var bytes = bytes
            pending.writeBuffer(&bytes)
            var events: [ByteBuffer] = []
            while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                var line = pending.readSlice(length: newline - pending.readerIndex)!
                pending.moveReaderIndex(forwardBy: 1)
                if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
                if line.readableBytes == 0 {
                    if let event = data { events.append(event) }
                    data = nil
                } else if line.readableBytesView.starts(with: "data:".utf8) {
                    line.moveReaderIndex(forwardBy: 5)
                    if line.readableBytesView.first == UInt8(ascii: " ") { line.moveReaderIndex(forwardBy: 1) }
                    if data != nil { data!.writeString("\n") }
                    data = (data ?? ByteBuffer()) + line
                }
            }
            pending.discardReadBytes()
            return events
        }
    }
}

extension ByteBuffer {
    fileprivate static func + (lhs: ByteBuffer, rhs: ByteBuffer) -> ByteBuffer {
        var joined = lhs
        var rhs = rhs
        joined.writeBuffer(&rhs)
        return joined
    }
}

import NIOCore
import NIOEmbedded
import SwitchboardBroker
import SwitchboardCore
import Testing

@testable import SwitchboardServer

/// The WebSocket connection handler on a test channel, behind NIO's frame decoder as in production: client frames go
/// in as wire bytes, and the exact bytes the server writes come out.
@Suite(.timeLimit(.minutes(1))) struct WebSocketConnectionHandlerTests {
    private let verifier: TokenVerifier
    private static let peer = try! SocketAddress(ipAddress: "127.0.0.1", port: 40_000)

    init() async throws {
        verifier = try await TokenVerifier(HubConfiguration().auth)
    }

    /// An upgraded connection on an `EmbeddedChannel` (everything stays on the test's thread).
    private func connection(
        _ mode: WebSocketMode = .echo, _ configure: (inout HubConfiguration) -> Void = { _ in }
    ) throws -> (EmbeddedChannel, StreamServices) {
        let channel = EmbeddedChannel()
        let services = try makeTestStreamServices(loop: channel.embeddedEventLoop, verifier: verifier, configure)
        try channel.connect(to: Self.peer).wait()
        try channel.pipeline.syncOperations.addHandlers(webSocketHandlers(mode, services: services))
        return (channel, services)
    }

    // MARK: messages

    /// Fragments are joined into one message; echo sends it back as one frame.
    @Test func fragmentsAreAssembledIntoOneMessage() throws {
        let (channel, _) = try connection()
        try channel.receive(WireBytes.client(0x1, "Hel", fin: false), WireBytes.client(0x0, "lo", fin: false), WireBytes.client(0x0, "!"))
        #expect(try channel.sentBytes() == WireBytes.server(0x1, "Hello!"))
    }

    /// A ping between two fragments is answered at once, and the message still completes.
    @Test func aPingBetweenFragmentsIsAnsweredWithAPong() throws {
        let (channel, _) = try connection()
        try channel.receive(WireBytes.client(0x2, [1, 2], fin: false), WireBytes.client(0x9, [0xAB, 0xCD]), WireBytes.client(0x0, [3]))
        #expect(try channel.sentBytes() == WireBytes.server(0xA, [0xAB, 0xCD]) + WireBytes.server(0x2, [1, 2, 3]))
    }

    /// Echo answers text with text and binary with binary, each message as it came.
    @Test func echoSendsEachMessageBackWithItsType() throws {
        let (channel, _) = try connection()
        try channel.receive(WireBytes.client(0x1, "héllo"), WireBytes.client(0x2, [0x00, 0xFF]))
        #expect(try channel.sentBytes() == WireBytes.server(0x1, "héllo") + WireBytes.server(0x2, [0x00, 0xFF]))
    }

    /// A closed connection's handler (and its endpoint, session and queues) is freed: it used to keep its own context,
    /// which holds it, so every closed WebSocket or SSE connection kept about 1 KB (Benchmarks/connection-churn.py).
    @Test func aClosedConnectionsHandlerIsFreed() throws {
        weak var handler: WebSocketConnectionHandler?
        try {
            let (channel, _) = try connection(.protocolV1)
            handler = try channel.pipeline.syncOperations.handler(type: WebSocketConnectionHandler.self)
            try channel.receive(WireBytes.client(0x1, #"{"id":1,"cmd":"ping"}"#))
            _ = try channel.finish()
        }()
        #expect(handler == nil)
    }

    /// The protocol endpoint runs commands and answers on the same connection.
    @Test func theProtocolEndpointAnswersACommand() throws {
        let (channel, _) = try connection(.protocolV1)
        try channel.receive(WireBytes.client(0x1, #"{"id":7,"cmd":"ping"}"#))
        #expect(try channel.sentBytes() == WireBytes.server(0x1, #"{"id":7,"result":{}}"#))
    }

    /// `switchboard.v1.json` takes text frames only: binary is 1003.
    @Test func theJSONProtocolRefusesBinaryWith1003() throws {
        let (channel, _) = try connection(.protocolV1)
        try channel.receive(WireBytes.client(0x2, [0x80]))
        #expect(try channel.sentBytes() == WireBytes.close(1003, "protocol switchboard.v1.json takes text frames only"))
        #expect(!channel.isActive)
    }

    // MARK: close handshake

    /// The peer starts the close handshake: the server answers with the same code and closes.
    @Test func thePeersCloseIsAnsweredWithItsCodeAndTheChannelCloses() throws {
        let (channel, _) = try connection()
        try channel.receive(WireBytes.client(0x8, [0x03, 0xE8] + Array("bye".utf8)))
        #expect(try channel.sentBytes() == WireBytes.close(1000))
        #expect(!channel.isActive)
    }

    /// Shutdown: the disconnect advice, then a 4001 close frame in the same write; the peer's close reply then closes
    /// the channel at once.
    @Test func quiesceSendsTheAdviceAndA4001CloseAndThePeersReplyClosesTheChannel() throws {
        let (channel, _) = try connection(.protocolV1)
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        let advice = #"{"push":"disconnect","code":4001,"reason":"server shutting down","reconnect":true}"#
        #expect(try channel.sentBytes() == WireBytes.server(0x1, advice) + WireBytes.close(4001, "server shutting down"))
        #expect(channel.isActive)
        try channel.receive(WireBytes.client(0x1, "late"))
        #expect(try channel.sentBytes() == [])
        try channel.receive(WireBytes.client(0x8, [0x0F, 0xA1]))
        #expect(try channel.sentBytes() == [])
        #expect(!channel.isActive)
    }

    /// Shutdown on an endpoint without a protocol: just the close frame; a peer that never answers is closed when the
    /// drain timeout ends.
    @Test func aPeerThatNeverAnswersTheShutdownCloseIsClosedAfterTheDrainTimeout() throws {
        let (channel, services) = try connection()
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(try channel.sentBytes() == WireBytes.close(4001, "server shutting down"))
        channel.embeddedEventLoop.advanceTime(by: services.settings.drainTimeout - .milliseconds(1))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(!channel.isActive)
    }

    // MARK: failures

    /// RFC 6455 section 5.1: client frames must be masked.
    @Test func anUnmaskedFrameFailsWith1002() throws {
        let (channel, _) = try connection()
        try channel.receive(WireBytes.client(0x1, Array("a".utf8), masked: false))
        #expect(try channel.sentBytes() == WireBytes.close(1002, "client frames must be masked"))
        #expect(!channel.isActive)
    }

    /// Reserved bits mean nothing without an extension (RSV1 without permessage-deflate here).
    @Test func reservedBitsWithoutAnExtensionFailWith1002() throws {
        let (channel, _) = try connection()
        try channel.receive(WireBytes.client(0x1, Array("a".utf8), reservedBits: 0b100))
        #expect(try channel.sentBytes() == WireBytes.close(1002, "reserved bits set without an extension"))
        #expect(!channel.isActive)
    }

    /// A continuation frame with no message to continue.
    @Test func aContinuationWithoutAMessageFailsWith1002() throws {
        let (channel, _) = try connection()
        try channel.receive(WireBytes.client(0x0, "orphan"))
        #expect(try channel.sentBytes() == WireBytes.close(1002, "continuation frame without a message"))
        #expect(!channel.isActive)
    }

    /// Invalid UTF-8 fails the connection on the fragment that carries it, before the message ends.
    @Test func invalidUTF8FailsWith1007BeforeTheMessageEnds() throws {
        let (channel, _) = try connection()
        try channel.receive(WireBytes.client(0x1, [0x61, 0xC0], fin: false))
        #expect(try channel.sentBytes() == WireBytes.close(1007, "text frame is not valid UTF-8"))
        #expect(!channel.isActive)
    }

    /// The limit applies to the joined message: the fragment that crosses it fails the connection.
    @Test func aMessageOverTheLimitFailsWith1009() throws {
        let (channel, _) = try connection { $0.limits.maxMessageBytes = 64 }
        let half = [UInt8](repeating: 0x2A, count: 40)
        try channel.receive(WireBytes.client(0x2, half, fin: false), WireBytes.client(0x0, half))
        #expect(try channel.sentBytes() == WireBytes.close(1009, "message larger than 64 bytes"))
        #expect(!channel.isActive)
    }

    /// A single frame over the limit is refused by the frame decoder, from its header.
    @Test func aFrameOverTheLimitFailsWith1009() throws {
        let (channel, _) = try connection { $0.limits.maxMessageBytes = 64 }
        try channel.receive(WireBytes.client(0x2, [UInt8](repeating: 0x2A, count: 100)))
        #expect(try channel.sentBytes() == WireBytes.close(1009, "frame larger than 64 bytes"))
        #expect(!channel.isActive)
    }

    /// A fragmented message must end within `limits.message_timeout_ms`.
    @Test func aMessageNotCompletedInTimeFailsWith1008() throws {
        let (channel, _) = try connection { $0.limits.messageTimeout = .milliseconds(250) }
        try channel.receive(WireBytes.client(0x1, "slow", fin: false))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(249))
        #expect(try channel.sentBytes() == [])
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(try channel.sentBytes() == WireBytes.close(1008, "message not completed within limits.message_timeout_ms"))
        #expect(!channel.isActive)
    }

    // MARK: pongs

    /// While the socket takes nothing, pings get no pong; once it drains, exactly one pong, with the latest ping's
    /// payload.
    @Test func pingsOnAFullSocketGetOnePongWithTheLatestPayloadWhenItDrains() throws {
        let (channel, _) = try connection(.protocolV1)
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        for round in 0..<50 {
            try channel.receive(WireBytes.client(0x9, [UInt8(round), 0x01]), WireBytes.client(0x9, [UInt8(round), 0x02]))
        }
        #expect(try channel.sentBytes() == [])
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(try channel.sentBytes() == WireBytes.server(0xA, [49, 0x02]))
        try channel.receive(WireBytes.client(0x9, [0x07]))
        #expect(try channel.sentBytes() == WireBytes.server(0xA, [0x07]))
    }

    // MARK: raw endpoint

    /// Raw endpoint: a text message is published to the URL's channel (plain text as a JSON string), and publications
    /// reach the client as their bare data, the client's own included.
    @Test func theRawEndpointPublishesMessagesAndSendsPublicationsAsBareData() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let services = try makeTestStreamServices(loop: loop, verifier: verifier)
        services.session.engine.attach(sink: services.hub)
        let room = try ChannelName(validating: "room")
        let channel = try await NIOAsyncTestingChannel(loop: loop) { channel in
            try channel.pipeline.syncOperations.addHandlers(webSocketHandlers(.raw(channel: room, options: NamespaceOptions()), services: services))
        }
        try await channel.connect(to: Self.peer)

        try await channel.writeInbound(WireBytes.client(0x1, "hello"))
        let echoed = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        #expect(Array(echoed.readableBytesView) == WireBytes.server(0x1, #""hello""#))
        let history = try await services.session.engine.history(channel: room, after: 0, limit: 10)
        #expect(history.publications.map { String(buffer: $0.data) } == [#""hello""#])

        _ = await services.session.publishing.publish(PublishRequest(channel: room, data: ByteBuffer(string: #"{"price":12.5}"#)), client: nil)
        let published = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
        #expect(Array(published.readableBytesView) == WireBytes.server(0x1, #"{"price":12.5}"#))
        try await channel.close().get()
    }

    /// Every raw subscriber of a publication is written the same frame: framed once, not once per delivery.
    @Test func rawSubscribersShareOneFramePerPublication() throws {
        let room = try ChannelName(validating: "room")
        let publication = EncodedPublication(Publication(channel: room, epoch: "e", offset: 1, data: ByteBuffer(string: #"{"p":1}"#)))
        let first = publication.rawTextFrame
        let second = publication.rawTextFrame
        #expect(Array(first.readableBytesView) == WireBytes.server(0x1, #"{"p":1}"#))
        let sameStorage = first.withUnsafeReadableBytes { a in second.withUnsafeReadableBytes { b in a.baseAddress == b.baseAddress } }
        #expect(sameStorage)
    }
}

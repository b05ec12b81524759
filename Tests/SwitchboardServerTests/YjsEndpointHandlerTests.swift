import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import SwitchboardCore
import SwitchboardYjs
import Testing

@testable import SwitchboardServer

/// The Yjs endpoint's heartbeat on a test channel with a hand-moved clock: exact frames, no waiting.
@Suite(.timeLimit(.minutes(1))) struct YjsEndpointHandlerTests {
    private let verifier: TokenVerifier
    private static let peer = try! SocketAddress(ipAddress: "127.0.0.1", port: 40_000)
    private static let room = try! ChannelName(validating: "docs:a")
    private static let options: NamespaceOptions = {
        var options = NamespaceOptions()
        options.yjs = true
        return options
    }()

    init() async throws {
        verifier = try await TokenVerifier(HubConfiguration().auth)
    }

    /// A connection to room `docs:a` (heartbeat every 25 s, 10 s to answer), past the server's sync step 1.
    private func connection() throws -> (EmbeddedChannel, YjsRoom) {
        let channel = EmbeddedChannel()
        let services = try makeTestStreamServices(loop: channel.embeddedEventLoop, verifier: verifier) {
            $0.heartbeat.interval = .seconds(25)
            $0.heartbeat.timeout = .seconds(10)
        }
        try channel.connect(to: Self.peer).wait()
        try channel.pipeline.syncOperations.addHandlers(
            webSocketHandlers(.yjs(room: Self.room, options: Self.options, canWrite: true), services: services))
        #expect(try channel.sentBytes() == WireBytes.server(0x2, [0, 0, 1, 0]))
        return (channel, try #require(services.yjsRooms.existingRoom(Self.room)))
    }

    /// The interval passes: a ping; then the client stays silent for the timeout: 4003, and the room's other clients
    /// get its awareness state as removed.
    @Test func aClientSilentAfterAPingIsClosedWith4003AndItsAwarenessRemoved() throws {
        let (channel, room) = try connection()
        let state = YjsAwarenessUpdate(entries: [.init(clientID: 5, clock: 3, state: Array(#"{"u":1}"#.utf8))])
        try channel.receive(WireBytes.client(0x2, YjsSyncMessage.encodeAwareness(state.encoded())))
        let seenByOthers = NIOLockedValueBox<[[UInt8]]>([])
        _ = room.join { message in seenByOthers.withLockedValue { $0.append(message) } }

        channel.embeddedEventLoop.advanceTime(by: .seconds(25))
        #expect(try channel.sentBytes() == WireBytes.server(0x9, "sb"))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(9_999))
        #expect(try channel.sentBytes() == [])
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(try channel.sentBytes() == WireBytes.close(4003, "heartbeat timeout"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))  // the close timeout
        #expect(!channel.isActive)
        let removed = YjsAwarenessUpdate(entries: [.init(clientID: 5, clock: 4, state: Array("null".utf8))])
        #expect(seenByOthers.withLockedValue { $0 } == [YjsSyncMessage.encodeAwareness(removed.encoded())])
        #expect(room.logStatistics.peers == 1)
    }

    /// Any frame after the ping (here its pong) keeps the connection; the next ping comes an interval later.
    @Test func aClientThatAnswersThePingStaysAndIsPingedAgainAnIntervalLater() throws {
        let (channel, _) = try connection()
        channel.embeddedEventLoop.advanceTime(by: .seconds(25))
        #expect(try channel.sentBytes() == WireBytes.server(0x9, "sb"))
        try channel.receive(WireBytes.client(0xA, "sb"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(try channel.sentBytes() == [])
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(25))
        #expect(try channel.sentBytes() == WireBytes.server(0x9, "sb"))
    }
}

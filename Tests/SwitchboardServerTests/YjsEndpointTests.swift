import SwitchboardBroker
import SwitchboardClient
import SwitchboardCore
import SwitchboardYjs
import Testing

@testable import SwitchboardServer

/// `/yjs/{room}` speaks y-websocket's protocol (docs/yjs.md); bad input closes the connection with a code and a
/// reason and leaves the stored document as it was. (The heartbeat: YjsEndpointHandlerTests; unmodified y-websocket
/// clients: tests/yjs/test_yjs_websocket.py.)
@Suite(.timeLimit(.minutes(1))) struct YjsEndpointTests {
    /// Client 7 typing "hi" into root text "t"; client 8 typing "yo".
    static let hi: [UInt8] = [1, 1, 7, 0, 4, 1, 1, 0x74, 2, 0x68, 0x69, 0]
    static let yo: [UInt8] = [1, 1, 8, 0, 4, 1, 1, 0x74, 2, 0x79, 0x6F, 0]
    /// Sync step 1 with an empty state vector: "send me everything".
    static let stepOneFromNothing: [UInt8] = [0, 0, 1, 0]

    /// A server whose namespace `docs` holds Yjs rooms; `hub` adjusts the rest of the configuration.
    static func startServer(
        broker: (any Broker)? = nil, _ configure: (inout NamespaceOptions) -> Void = { _ in }, hub: (inout HubConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        try await TestServer.start(broker: broker) { configuration in
            hub(&configuration)
            var docs = configuration.channelDefaults
            docs.yjs = true
            configure(&docs)
            configuration.namespaces["docs"] = docs
        }
    }

    /// Connects and reads the server's own sync step 1.
    static func connect(_ server: TestServer, room: String = "docs:a", headers: [(String, String)] = []) async throws -> WebSocketClient {
        let client = try await server.webSocket(path: "/yjs/\(room)", subprotocols: [], headers: headers)
        let first = await client.receive()
        guard case .binary(let bytes) = first, bytes.starts(with: [0, 0]) else {
            Issue.record("expected the server's sync step 1, got \(String(describing: first))")
            return client
        }
        return client
    }

    /// Sends an update and waits until the server has handled it (its answer to a step 1 sent after it).
    static func store(_ update: [UInt8], with client: WebSocketClient) async throws {
        try await client.sendFrame(opcode: 0x2, payload: YjsSyncMessage.encodeUpdate(update))
        try await client.sendFrame(opcode: 0x2, payload: stepOneFromNothing)
        _ = await client.receive()  // step 2
        _ = await client.receive()  // the server's step 1
    }

    /// The room's document as a new client is sent it.
    static func document(_ server: TestServer, room: String = "docs:a") async throws -> [UInt8] {
        let client = try await connect(server, room: room)
        try await client.sendFrame(opcode: 0x2, payload: stepOneFromNothing)
        guard case .binary(let message) = await client.receive(), case .syncStep2(let update) = try YjsSyncMessage(decoding: message) else {
            Issue.record("no step 2")
            return []
        }
        await client.close()
        return update
    }

    static func closeFrame(_ client: WebSocketClient) async -> (code: UInt16?, reason: String)? {
        while let message = await client.receive() {
            if case .close(let code, let reason) = message { return (code, reason) }
        }
        return nil
    }

    @Test func onConnectTheServerSendsItsSyncStep1WithTheRoomsStateVector() async throws {
        let server = try await Self.startServer()
        let client = try await server.webSocket(path: "/yjs/docs:a", subprotocols: [])
        #expect(await client.receive() == .binary([0, 0, 1, 0]))
        try await server.stop()
    }

    @Test func aClientsStep1IsAnsweredWithStep2AndTheServersOwnStep1() async throws {
        let server = try await Self.startServer()
        let writer = try await Self.connect(server)
        try await Self.store(Self.hi, with: writer)
        let reader = try await server.webSocket(path: "/yjs/docs:a", subprotocols: [])
        #expect(await reader.receive() == .binary([0, 0, 3, 1, 7, 2]))
        try await reader.sendFrame(opcode: 0x2, payload: Self.stepOneFromNothing)
        #expect(await reader.receive() == .binary(YjsSyncMessage.encodeSyncStep2(Self.hi)))
        #expect(await reader.receive() == .binary([0, 0, 3, 1, 7, 2]))
        // A client that has client 7's clocks already gets nothing of them.
        try await reader.sendFrame(opcode: 0x2, payload: YjsSyncMessage.encodeSyncStep1([1, 7, 2]))
        #expect(await reader.receive() == .binary(YjsSyncMessage.encodeSyncStep2([0, 0])))
        try await server.stop()
    }

    @Test func anUpdateGoesToTheRoomsOtherClientsAndNotBack() async throws {
        let server = try await Self.startServer()
        let first = try await Self.connect(server)
        let second = try await Self.connect(server)
        try await first.sendFrame(opcode: 0x2, payload: YjsSyncMessage.encodeUpdate(Self.hi))
        #expect(await second.receive() == .binary(YjsSyncMessage.encodeUpdate(Self.hi)))
        // The sender's next message is the answer to its own step 1, not its update echoed.
        try await first.sendFrame(opcode: 0x2, payload: YjsSyncMessage.encodeSyncStep1([1, 7, 2]))
        #expect(await first.receive() == .binary(YjsSyncMessage.encodeSyncStep2([0, 0])))
        try await server.stop()
    }

    @Test func theLogIsCompactedIntoOneMergedUpdateAfterTheConfiguredCount() async throws {
        let server = try await Self.startServer { $0.yjsCompactAfterUpdates = 3 }
        let writer = try await Self.connect(server)
        let watcher = try await Self.connect(server)
        let z: [UInt8] = [1, 1, 9, 0, 4, 1, 1, 0x74, 1, 0x7A, 0]
        let room = try #require(server.server.yjsRooms.existingRoom(try ChannelName(validating: "docs:a")))
        for update in [Self.hi, Self.yo] {
            try await writer.sendFrame(opcode: 0x2, payload: YjsSyncMessage.encodeUpdate(update))
            // Relayed inside the room's lock: once the watcher has it, reading the log waits for the append to finish.
            #expect(await watcher.receive() == .binary(YjsSyncMessage.encodeUpdate(update)))
        }
        #expect(room.logStatistics.updates == 2)
        #expect(room.logStatistics.compactions == 0)
        try await writer.sendFrame(opcode: 0x2, payload: YjsSyncMessage.encodeUpdate(z))
        #expect(await watcher.receive() == .binary(YjsSyncMessage.encodeUpdate(z)))
        #expect(room.logStatistics.updates == 1)
        #expect(room.logStatistics.compactions == 1)
        #expect(room.document() == (try YjsUpdates.merge([Self.hi, Self.yo, z])))
        try await server.stop()
    }

    @Test func awarenessIsRelayedAndQueriedAndRemovedWhenItsClientLeaves() async throws {
        let server = try await Self.startServer()
        let first = try await Self.connect(server)
        let second = try await Self.connect(server)
        let state = YjsAwarenessUpdate(entries: [.init(clientID: 42, clock: 1, state: Array(#"{"user":"ann"}"#.utf8))])
        let message = YjsSyncMessage.encodeAwareness(state.encoded())
        try await first.sendFrame(opcode: 0x2, payload: message)
        #expect(await second.receive() == .binary(message))
        try await second.sendFrame(opcode: 0x2, payload: [3])
        #expect(await second.receive() == .binary(message))
        await first.close()
        let removed = YjsAwarenessUpdate(entries: [.init(clientID: 42, clock: 2, state: Array("null".utf8))])
        #expect(await second.receive() == .binary(YjsSyncMessage.encodeAwareness(removed.encoded())))
        try await server.stop()
    }

    @Test func aReadOnlyClientsUpdateIsDroppedAndAnsweredWithPermissionDenied() async throws {
        let server = try await Self.startServer()
        let token = try await TestServer.token("reader", capabilities: Capabilities(subscribe: [ChannelPattern("docs:*")]))
        let reader = try await Self.connect(server, headers: [("authorization", "Bearer \(token)")])
        let writer = try await Self.connect(server)
        try await reader.sendFrame(opcode: 0x2, payload: YjsSyncMessage.encodeUpdate(Self.hi))
        guard case .binary(let answer) = await reader.receive() else { throw HTTPRefusal(status: 0, body: "no answer") }
        #expect(answer.starts(with: [2, 0]))
        // The reader still gets the others' updates; the room never stored its own.
        try await writer.sendFrame(opcode: 0x2, payload: YjsSyncMessage.encodeUpdate(Self.yo))
        #expect(await reader.receive() == .binary(YjsSyncMessage.encodeUpdate(Self.yo)))
        #expect(try await Self.document(server) == Self.yo)
        try await server.stop()
    }

    /// Each bad input closes with its code and a reason naming the problem; the stored document stays as it was.
    @Test(
        arguments: [
            ("garbage", [0xFF, 0xFF, 0xFF], 1007, "malformed message"),
            ("truncated varint", [0, 2, 0x85], 1007, "malformed message"),
            ("unknown message type", [7], 1007, "unknown message type"),
            ("update that does not decode", YjsSyncMessage.encodeUpdate([1, 1, 7, 5, 0x0B, 0]), 1007, "update does not decode"),
            (
                "state vector claiming 2^53 clients", YjsSyncMessage.encodeSyncStep1([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 1, 1]), 1007,
                "malformed state vector"
            ),
            ("awareness state that is not JSON", YjsSyncMessage.encodeAwareness([1, 42, 1, 3, 0x7B, 0x7B, 0x7B]), 1007, "malformed awareness"),
            ("update over yjs_max_update_bytes", YjsSyncMessage.encodeUpdate([UInt8](repeating: 0, count: 200)), 1009, "yjs update over 100 bytes"),
        ] as [(String, [UInt8], Int, String)])
    func badInputClosesWithACodeAndReasonAndLeavesTheDocument(_ name: String, _ message: [UInt8], _ code: Int, _ reason: String) async throws {
        let server = try await Self.startServer { $0.yjsMaxUpdateBytes = 100 }
        let writer = try await Self.connect(server)
        try await Self.store(Self.hi, with: writer)
        let bad = try await Self.connect(server)
        try await bad.sendFrame(opcode: 0x2, payload: message)
        let close = await Self.closeFrame(bad)
        #expect(close?.code == UInt16(code), "\(name)")
        #expect(close?.reason.contains(reason) == true, "\(name): \(close?.reason ?? "no close")")
        #expect(try await Self.document(server) == Self.hi, "\(name)")
        try await server.stop()
    }

    @Test func aTextFrameClosesWith1003() async throws {
        let server = try await Self.startServer()
        let client = try await Self.connect(server)
        try await client.send(text: "hello")
        #expect(await Self.closeFrame(client)?.code == 1003)
        try await server.stop()
    }

    @Test func anUpdateGrowingTheDocumentPastItsLimitClosesWith4510AndIsNotStored() async throws {
        let server = try await Self.startServer { $0.yjsMaxDocumentBytes = 20 }
        let writer = try await Self.connect(server)
        try await Self.store(Self.hi, with: writer)
        try await writer.sendFrame(opcode: 0x2, payload: YjsSyncMessage.encodeUpdate(Self.yo))
        let close = await Self.closeFrame(writer)
        #expect(close?.code == 4510)
        #expect(close?.reason == "document size limit reached")
        #expect(try await Self.document(server) == Self.hi)
        try await server.stop()
    }

    @Test func aPageFromAnOriginThePolicyRefusesIsRefusedBeforeTheUpgrade() async throws {
        let server = try await Self.startServer()
        let refusal = await #expect(throws: HTTPRefusal.self) {
            try await server.webSocket(path: "/yjs/docs:a", subprotocols: [], headers: [("origin", "https://evil.example")])
        }
        #expect(refusal?.status == 403)
        try await server.stop()
    }

    @Test func roomsOutsideAYjsNamespaceAreRefusedBeforeTheUpgrade() async throws {
        let server = try await Self.startServer()
        let refusal = await #expect(throws: HTTPRefusal.self) { try await server.webSocket(path: "/yjs/chat:a", subprotocols: []) }
        #expect(refusal?.status == 404)
        #expect(refusal?.body.contains("unknown_namespace") == true)
        try await server.stop()
    }
}

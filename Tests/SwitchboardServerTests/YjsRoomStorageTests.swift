import NIOCore
import SwitchboardBroker
import SwitchboardClient
import SwitchboardCore
import SwitchboardYjs
import Testing

@testable import SwitchboardServer

/// A room's log read from the engine off the event loop under a deadline, and rooms dropped from memory when idle
/// (docs/yjs.md "Storage"), with an engine that can be slow, fail or hang (``FaultyBroker``).
@Suite(.timeLimit(.minutes(1))) struct YjsRoomStorageTests {
    private typealias Endpoint = YjsEndpointTests
    private static let room = try! ChannelName(validating: "docs:a")
    /// The server's step 1 for a room holding only `Endpoint.hi` (client 7, clock 2).
    private static let stepOneOfHi: [UInt8] = [0, 0, 3, 1, 7, 2]

    /// Waits for a condition, checking every 10 ms, for at most 10 s (the server's side of a close is not observable
    /// from the client).
    private func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Reads the engine's event stream up to `event`.
    private func awaitEvent(_ event: String, in broker: FaultyBroker) async {
        for await seen in broker.events where seen == event { return }
    }

    @Test func messagesSentWhileTheRoomLoadsAreHandledInOrderOnceItIsReadAndConnectionsShareTheRead() async throws {
        let broker = FaultyBroker()
        broker.yjsLogs.withLockedValue { $0["docs:a"] = [Endpoint.hi] }
        broker.set("yjs_load", .gated)
        let server = try await Endpoint.startServer(broker: broker)
        let first = try await server.webSocket(path: "/yjs/docs:a", subprotocols: [])
        await awaitEvent("start yjs_load", in: broker)
        // Sent before the room is there: an update, then a step 1 that must see it.
        try await first.sendFrame(opcode: 0x2, payload: YjsSyncMessage.encodeUpdate(Endpoint.yo))
        try await first.sendFrame(opcode: 0x2, payload: Endpoint.stepOneFromNothing)
        let second = try await server.webSocket(path: "/yjs/docs:a", subprotocols: [])
        broker.open("yjs_load")

        let document = try YjsUpdates.merge([Endpoint.hi, Endpoint.yo])
        #expect(await first.receive() == .binary(Self.stepOneOfHi))
        #expect(await first.receive() == .binary(YjsSyncMessage.encodeSyncStep2(try YjsUpdates.diff(document, against: [0]))))
        #expect(await first.receive() == .binary(YjsSyncMessage.encodeSyncStep1(try YjsUpdates.stateVector(of: document))))
        // The second connection joined before or after the update: it gets it in its first state or as a message.
        guard case .binary(let welcome) = await second.receive() else { throw HTTPRefusal(status: 0, body: "no step 1") }
        if welcome == Self.stepOneOfHi { #expect(await second.receive() == .binary(YjsSyncMessage.encodeUpdate(Endpoint.yo))) }
        #expect(broker.yjsLoads.withLockedValue { $0 } == 1)
        // Both waits are engine calls in the metrics: the read, and the step 1 waiting for the update's write.
        for operation in ["yjs_load", "yjs_store"] {
            #expect(try await server.metric(#"switchboard_engine_call_duration_seconds_count{operation="\#(operation)",outcome="ok"}"#) == 1)
        }
        try await server.stop()
    }

    /// A client gone while its room loads is noticed once the room is there (reads resume), and leaves no peer behind.
    @Test func aClientThatLeavesWhileItsRoomLoadsLeavesNoPeer() async throws {
        let broker = FaultyBroker()
        broker.set("yjs_load", .gated)
        let server = try await Endpoint.startServer(broker: broker)
        let gone = try await server.webSocket(path: "/yjs/docs:a", subprotocols: [])
        await awaitEvent("start yjs_load", in: broker)
        // Its close frame waits unread in the socket while the room loads.
        try await gone.sendFrame(opcode: 0x8, payload: [0x03, 0xE8])
        broker.open("yjs_load")
        await gone.close()
        let room = try #require(await firstRoom(server))
        try await waitUntil { room.logStatistics.peers == 0 }
        let client = try await Endpoint.connect(server)
        try await Endpoint.store(Endpoint.hi, with: client)
        #expect(room.logStatistics.peers == 1)
        try await server.stop()
    }

    /// The room once it is in memory (after the engine's read).
    private func firstRoom(_ server: TestServer) async -> YjsRoom? {
        try? await waitUntil { server.server.yjsRooms.existingRoom(Self.room) != nil }
        return server.server.yjsRooms.existingRoom(Self.room)
    }

    @Test(arguments: [("fail", "unavailable"), ("hang", "timed_out")])
    func aRoomTheEngineCannotReadClosesWith1011AndTheNextConnectionReadsItAgain(_ behaviour: String, _ kind: String) async throws {
        let broker = FaultyBroker()
        broker.yjsLogs.withLockedValue { $0["docs:a"] = [Endpoint.hi] }
        broker.set("yjs_load", behaviour == "hang" ? .hang : .fail(.unavailable))
        // A deadline a loaded machine meets for a call that fails at once (the suites run side by side).
        let server = try await Endpoint.startServer(broker: broker, hub: { $0.engineCallTimeout = .seconds(1) })
        let refused = try await server.webSocket(path: "/yjs/docs:a", subprotocols: [])
        // The server may have closed already (an engine that fails at once).
        try? await refused.sendFrame(opcode: 0x2, payload: YjsSyncMessage.encodeUpdate(Endpoint.yo))
        let close = await Endpoint.closeFrame(refused)
        #expect(close?.code == 1011)
        #expect(close?.reason == "yjs: the room could not be loaded: engine \(kind)")
        #expect(server.server.yjsRooms.existingRoom(Self.room) == nil)

        broker.set("yjs_load", .normal)
        let client = try await server.webSocket(path: "/yjs/docs:a", subprotocols: [])
        #expect(await client.receive() == .binary(Self.stepOneOfHi))
        // The refused connection's update was never stored.
        #expect(try await Endpoint.document(server) == Endpoint.hi)
        try await server.stop()
    }

    /// The answer to a step 1 is the acknowledgement: it waits for the writes of what the room accepted before it.
    @Test func aStep1IsAnsweredOnceTheRoomsEarlierUpdatesAreStored() async throws {
        let broker = FaultyBroker()
        broker.set("yjs_append", .gated)
        let server = try await Endpoint.startServer(broker: broker)
        let client = try await Endpoint.connect(server)
        let awareness = YjsSyncMessage.encodeAwareness(
            YjsAwarenessUpdate(entries: [.init(clientID: 7, clock: 1, state: Array(#"{"u":1}"#.utf8))]).encoded())
        try await client.sendFrame(opcode: 0x2, payload: YjsSyncMessage.encodeUpdate(Endpoint.hi))
        try await client.sendFrame(opcode: 0x2, payload: Endpoint.stepOneFromNothing)
        // Query-awareness is answered at once: its answer overtakes the step 1's, which waits for the write.
        try await client.sendFrame(opcode: 0x2, payload: awareness)
        try await client.sendFrame(opcode: 0x2, payload: [3])
        #expect(await client.receive() == .binary(awareness))
        #expect(broker.yjsLogs.withLockedValue { $0["docs:a"] } == nil)
        broker.open("yjs_append")
        #expect(await client.receive() == .binary(YjsSyncMessage.encodeSyncStep2(try YjsUpdates.diff(Endpoint.hi, against: [0]))))
        #expect(await client.receive() == .binary(Self.stepOneOfHi))
        #expect(broker.yjsLogs.withLockedValue { $0["docs:a"] } == [Endpoint.hi])
        try await server.stop()
    }

    @Test(arguments: [("fail", "internal"), ("hang", "timed_out")])
    func aStep1WhoseUpdatesTheEngineDoesNotStoreClosesWith1011(_ behaviour: String, _ kind: String) async throws {
        let broker = FaultyBroker()
        broker.set("yjs_append", behaviour == "hang" ? .hang : .fail(.unavailable))
        let server = try await Endpoint.startServer(broker: broker, hub: { $0.engineCallTimeout = .seconds(1) })
        let client = try await Endpoint.connect(server)
        try await client.sendFrame(opcode: 0x2, payload: YjsSyncMessage.encodeUpdate(Endpoint.hi))
        // A write that fails at once may have closed the connection already.
        try? await client.sendFrame(opcode: 0x2, payload: Endpoint.stepOneFromNothing)
        let close = await Endpoint.closeFrame(client)
        #expect(close?.code == 1011)
        #expect(close?.reason == "yjs: the room could not be stored: engine \(kind)")
        // The hung write does not hold the shutdown: the server gives up on it after twice the deadline.
        try await server.stop()
    }

    @Test func aRoomWithoutConnectionsLeavesMemoryOnceStoredAndComesBackFromTheEngine() async throws {
        let broker = FaultyBroker()
        broker.set("yjs_append", .gated)
        // The server's own sweep waits an hour: the test sweeps by hand.
        let server = try await Endpoint.startServer(broker: broker, hub: { $0.yjsRoomIdle = .seconds(3600) })
        let rooms = server.server.yjsRooms
        let anyIdleRoom = NIODeadline.now() + .hours(1)
        let writer = try await Endpoint.connect(server)
        // An update alone: a step 1 would wait for the write held back here.
        try await writer.sendFrame(opcode: 0x2, payload: YjsSyncMessage.encodeUpdate(Endpoint.hi))
        await awaitEvent("start yjs_append", in: broker)
        let room = try #require(rooms.existingRoom(Self.room))
        #expect(rooms.evictIdle(since: anyIdleRoom) == 0, "a room with a connection stays")
        await writer.close()
        try await waitUntil { room.logStatistics.peers == 0 }
        #expect(rooms.evictIdle(since: anyIdleRoom) == 0, "a room whose update is still queued for the engine stays")
        #expect(rooms.evictIdle(since: .now() - .hours(1)) == 0, "a room idle for less than the cutoff stays")

        broker.open("yjs_append")
        try await waitUntil { rooms.evictIdle(since: anyIdleRoom) == 1 }
        #expect(rooms.existingRoom(Self.room) == nil)
        let reader = try await server.webSocket(path: "/yjs/docs:a", subprotocols: [])
        #expect(await reader.receive() == .binary(Self.stepOneOfHi))
        #expect(broker.yjsLoads.withLockedValue { $0 } == 2)
        #expect(rooms.existingRoom(Self.room) !== room)
        try await server.stop()
    }

    @Test func theServerSweepsRoomsIdleForYjsRoomIdle() async throws {
        let broker = FaultyBroker()
        let server = try await Endpoint.startServer(broker: broker, hub: { $0.yjsRoomIdle = .milliseconds(50) })
        let writer = try await Endpoint.connect(server)
        try await Endpoint.store(Endpoint.hi, with: writer)
        #expect(server.server.yjsRooms.existingRoom(Self.room) != nil)
        await writer.close()
        try await waitUntil { server.server.yjsRooms.existingRoom(Self.room) == nil }
        #expect(broker.yjsLogs.withLockedValue { $0["docs:a"] } == [Endpoint.hi])
        #expect(try await Endpoint.document(server) == Endpoint.hi)
        try await server.stop()
    }

    @Test func withTheMemoryEngineRoomsStayInMemory() async throws {
        let server = try await Endpoint.startServer(hub: { $0.yjsRoomIdle = .milliseconds(1) })
        let writer = try await Endpoint.connect(server)
        try await Endpoint.store(Endpoint.hi, with: writer)
        let room = try #require(server.server.yjsRooms.existingRoom(Self.room))
        await writer.close()
        try await waitUntil { room.logStatistics.peers == 0 }
        #expect(server.server.yjsRooms.evictIdle(since: .now() + .hours(1)) == 0)
        #expect(try await Endpoint.document(server) == Endpoint.hi)
        try await server.stop()
    }
}

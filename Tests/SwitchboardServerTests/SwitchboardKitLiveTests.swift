import NIOCore
import SwitchboardCore
import Testing

@testable import SwitchboardKit

/// The live-app commands of the SDK client against the real server: history pages, presence, signals, receipts.
@Suite(.timeLimit(.minutes(1))) struct SwitchboardKitLiveTests {
    /// `room` tracks presence (and takes signals, as every namespace by default); `dm` keeps receipts.
    private func server() async throws -> TestServer {
        try await TestServer.start { configuration in
            var room = configuration.channelDefaults
            room.presence = true
            configuration.namespaces["room"] = room
            var dm = configuration.channelDefaults
            dm.receipts = true
            configuration.namespaces["dm"] = dm
        }
    }

    private func client(_ server: TestServer, _ user: String, transport: Switchboard.Client.Transport = .webSocket) async throws
        -> Switchboard.Client
    {
        var configuration = SwitchboardKitClientTests.quickReconnects
        configuration.transports = [transport]
        return try Switchboard.Client(
            url: "ws://127.0.0.1:\(server.port)", token: try await TestServer.token(user), configuration: configuration)
    }

    /// The next event that is not `.subscribed`.
    private func next(_ events: inout Switchboard.Subscription.Iterator) async throws -> Switchboard.SubscriptionEvent? {
        while let event = try await events.next() {
            if case .subscribed = event { continue }
            return event
        }
        return nil
    }

    /// Pages from the oldest, after a position, before an offset and the latest, oldest first each; a position of
    /// another epoch is not recovered; refusals are the server's errors. Over WebSocket and over SSE's commands.
    @Test(arguments: [Switchboard.Client.Transport.webSocket, .sse])
    func historyIsReadInPagesOverTheConnection(over transport: Switchboard.Client.Transport) async throws {
        let server = try await server()
        let api = try Switchboard.API(baseURL: "http://127.0.0.1:\(server.port)", apiKey: TestServer.apiKey)
        var positions: [Switchboard.Position] = []
        for number in 1...5 { positions.append(try await api.publish("news", json: "\(number)")) }
        let client = try await client(server, "alice", transport: transport)
        func texts(_ page: Switchboard.HistoryPage) -> [String] { page.publications.map(\.text) }
        let latest = try await client.history("news", .latest, limit: 2)
        #expect(texts(latest) == ["4", "5"] && latest.position == positions[4] && latest.recovered == nil)
        #expect(latest.publications.map(\.position) == [positions[3], positions[4]])
        #expect(texts(try await client.history("news", .before(offset: 4), limit: 2)) == ["2", "3"])
        let since = try await client.history("news", .since(positions[1]), limit: 2)
        #expect(texts(since) == ["3", "4"] && since.recovered == true)
        #expect(texts(try await client.history("news")) == ["1", "2", "3", "4", "5"])
        let lost = try await client.history("news", .since(Switchboard.Position(epoch: "P0q7LmZ2", offset: 3)))
        #expect(lost.recovered == false && texts(lost).count == 5)
        let tooMany = await #expect(throws: Switchboard.ServerError.self) { try await client.history("news", limit: 5000) }
        #expect(tooMany?.code == 107)
        let badName = await #expect(throws: Switchboard.ServerError.self) { try await client.history("bad name") }
        #expect(badName?.code == 108)
        #expect(await client.statistics().transport == transport)
        await client.close()
        try await server.stop()
    }

    /// The subscription yields the snapshot after its confirmation, then joins, info updates and leaves; a
    /// `PresenceList` fed the events matches the server's page; a watcher with `joinPresence: false` is not announced.
    @Test func presenceIsASnapshotThenJoinsUpdatesAndLeaves() async throws {
        let server = try await server()
        let alice = try await client(server, "alice")
        var aliceEvents = alice.subscribe("room:1", options: .init(presenceInfo: #"{"name": "Alice"}"#)).makeAsyncIterator()
        var list = Switchboard.PresenceList()
        guard case .presence(let snapshot) = try await next(&aliceEvents) else {
            Issue.record("expected the presence snapshot")
            return
        }
        list.apply(.presence(snapshot))
        #expect(snapshot.clients == 1 && snapshot.users == 1 && snapshot.next == nil)
        #expect(snapshot.members.map(\.user) == ["alice"] && snapshot.members.first?.infoText == #"{"name":"Alice"}"#)
        // Alice's own join follows her snapshot; it changes nothing in the list.
        guard case .join(let own) = try await next(&aliceEvents), own.user == "alice" else {
            Issue.record("expected alice's own join")
            return
        }
        list.apply(.join(own))
        #expect(list.clients == 1)

        let carol = try await client(server, "carol")
        var carolEvents = carol.subscribe("room:1", options: .init(joinPresence: false)).makeAsyncIterator()
        guard case .presence(let seenByCarol) = try await next(&carolEvents) else {
            Issue.record("expected carol's snapshot")
            return
        }
        #expect(seenByCarol.clients == 1)

        let bob = try await client(server, "bob")
        let bobSubscribed = AsyncStream.makeStream(of: Void.self)
        let bobConsumer = Task {
            for try await event in bob.subscribe("room:1") { if case .subscribed = event { bobSubscribed.continuation.yield() } }
        }
        var bobReady = bobSubscribed.stream.makeAsyncIterator()
        await bobReady.next()
        // Carol watched without joining: the next change alice sees is bob's join.
        let joined = try await next(&aliceEvents)
        guard case .join(let bobMember) = joined, bobMember.user == "bob", bobMember.info == nil else {
            Issue.record("expected bob's join, got \(String(describing: joined))")
            return
        }
        list.apply(joined!)
        try await bob.updatePresence("room:1", info: #"{"typing":true}"#)
        let updated = try await next(&aliceEvents)
        #expect(
            updated
                == .presenceUpdate(Switchboard.PresenceMember(client: bobMember.client, user: "bob", info: ByteBuffer(string: #"{"typing":true}"#))))
        list.apply(updated!)
        let page = try await alice.presence("room:1")
        #expect(page.clients == 2 && page.users == 2)
        let api = try Switchboard.API(baseURL: "http://127.0.0.1:\(server.port)", apiKey: TestServer.apiKey)
        #expect(try await api.presence("room:1") == page)
        let first = try await api.presence("room:1", limit: 1)
        let cursor: String = try #require(first.next)
        let second = try await api.presence("room:1", cursor: cursor, limit: 1)
        #expect(first.members + second.members == page.members && second.next == nil)
        let noPresence = await #expect(throws: Switchboard.ServerError.self) { try await api.presence("news") }
        #expect(noPresence?.code == 130)
        #expect(Set(page.members.map(\.client)) == Set(list.members.keys))
        #expect(list.members[bobMember.client]?.infoText == #"{"typing":true}"#)

        bobConsumer.cancel()
        let left = try await next(&aliceEvents)
        guard case .leave(let leaving) = left, leaving.client == bobMember.client else {
            Issue.record("expected bob's leave, got \(String(describing: left))")
            return
        }
        list.apply(.leave(leaving))
        #expect(list.clients == 1 && list.members.keys.sorted() == [own.client])

        await #expect(throws: Switchboard.ClientError.self) {
            for try await _ in alice.subscribe("room:2", options: .init(presenceInfo: "{oops")) {}
        }
        let notSubscribed = await #expect(throws: Switchboard.ServerError.self) { try await alice.updatePresence("room:9", info: "1") }
        #expect(notSubscribed?.code == 109)
        for client in [alice, bob, carol] { await client.close() }
        try await server.stop()
    }

    /// A signal reaches the channel's subscribers with its sender; a second one inside the interval is coalesced;
    /// signalling a channel one is not subscribed to is refused.
    @Test func signalsReachSubscribersAndAreCoalesced() async throws {
        let server = try await server()
        let alice = try await client(server, "alice")
        let bob = try await client(server, "bob")
        var aliceEvents = alice.subscribe("room:2").makeAsyncIterator()
        var bobEvents = bob.subscribe("room:2").makeAsyncIterator()
        _ = try await aliceEvents.next()  // .subscribed
        _ = try await bobEvents.next()
        #expect(await bob.signalInterval("room:2") == .seconds(1))
        #expect(await bob.signalInterval("room:3") == nil)
        #expect(try await bob.signal("room:2", type: "typing", json: #"{"on": true}"#) == .sent)
        var event = try await next(&aliceEvents)
        while case .presence = event { event = try await next(&aliceEvents) }
        while case .join = event { event = try await next(&aliceEvents) }
        guard case .signal(let signal) = event else {
            Issue.record("expected a signal, got \(String(describing: event))")
            return
        }
        #expect(signal.channel == "room:2" && signal.type == "typing" && signal.user == "bob")
        #expect(signal.data.map { String(buffer: $0) } == #"{"on":true}"#)
        #expect(try await bob.signal("room:2", type: "typing", json: #"{"on":false}"#) == .coalesced)
        let refused = await #expect(throws: Switchboard.ServerError.self) { try await bob.signal("room:3", type: "typing") }
        #expect(refused?.code == 109)
        await #expect(throws: Switchboard.ClientError.self) { try await bob.signal("room:2", type: "typing", json: "{oops") }
        await alice.close()
        await bob.close()
        try await server.stop()
    }

    /// A publication with receipts: the recipient's client acknowledges delivery by itself, `markRead` marks it read,
    /// the publisher's subscription yields both receipts and `receipts` answers the record; others are refused.
    @Test func receiptsTellThePublisherWhoReceivedAndRead() async throws {
        let server = try await server()
        let alice = try await client(server, "alice")
        let bob = try await client(server, "bob")
        var aliceEvents = alice.subscribe("dm:1").makeAsyncIterator()
        var bobEvents = bob.subscribe("dm:1").makeAsyncIterator()
        _ = try await aliceEvents.next()
        _ = try await bobEvents.next()
        let position = try await alice.publish("dm:1", json: #"{"text":"hi bob"}"#, receipts: true)
        guard case .publication(let received) = try await next(&bobEvents) else {
            Issue.record("expected the publication")
            return
        }
        #expect(received.receipts && received.sender == "alice" && received.position == position)
        var receipts: [Switchboard.Receipt] = []
        while receipts.count < 2, let event = try await next(&aliceEvents) {
            guard case .receipt(let receipt) = event else { continue }  // her own publication
            receipts.append(receipt)
            // Read after delivered, so that the two receipts come in that order.
            if receipt.status == .delivered { try await bob.markRead("dm:1", offset: position.offset) }
        }
        #expect(receipts.map(\.status) == [.delivered, .read])
        #expect(receipts.allSatisfy { $0.user == "bob" && $0.offset == position.offset && $0.channel == "dm:1" })
        let record = try await alice.receipts("dm:1", offset: position.offset)
        #expect(record.recipients == [.init(user: "bob", delivered: true, read: true)])
        #expect(record.total == 1 && record.delivered == 1 && record.read == 1 && !record.truncated)
        let api = try Switchboard.API(baseURL: "http://127.0.0.1:\(server.port)", apiKey: TestServer.apiKey)
        #expect(try await api.receipts("dm:1", offset: position.offset) == record)
        let notPublisher = await #expect(throws: Switchboard.ServerError.self) { try await bob.receipts("dm:1", offset: position.offset) }
        #expect(notPublisher?.code == 135)
        let plain = try await alice.publish("dm:1", json: "2")
        let noRecord = await #expect(throws: Switchboard.ServerError.self) { try await bob.markRead("dm:1", offset: plain.offset) }
        #expect(noRecord?.code == 134)
        await alice.close()
        await bob.close()
        try await server.stop()
    }
}

/// The live-app commands across lost connections, through the link-fault proxy.
@Suite(.timeLimit(.minutes(1))) struct SwitchboardKitLiveReconnectTests {
    /// Presence info set with `updatePresence` is sent again with the subscription after a link cut: the new
    /// connection's snapshot shows it. A call made while no connection gets through waits and is answered once one
    /// does.
    @Test func presenceInfoSurvivesALinkCutAndCallsWaitForTheConnection() async throws {
        let server = try await TestServer.start { configuration in
            var room = configuration.channelDefaults
            room.presence = true
            configuration.namespaces["room"] = room
        }
        let proxy = try await LinkFault.start(targetPort: server.port)
        defer { proxy.stop() }
        let client = try Switchboard.Client(
            url: "ws://127.0.0.1:\(proxy.port)", token: try await TestServer.token("alice"),
            configuration: SwitchboardKitClientTests.quickReconnects)
        var states = client.connectionStates().makeAsyncIterator()
        var events = client.subscribe("room:1", options: .init(presenceInfo: #"{"v":1}"#)).makeAsyncIterator()
        func nextSnapshot() async throws -> Switchboard.PresencePage? {
            while let event = try await events.next() { if case .presence(let page) = event { return page } }
            return nil
        }
        #expect(try await nextSnapshot()?.members.first?.infoText == #"{"v":1}"#)
        try await client.updatePresence("room:1", info: #"{"v":2}"#)
        try await proxy.cut()
        var sessions: [String] = []
        while sessions.count < 2, let state = await states.next() {
            if case .connected(let id) = state { sessions.append(id) }
        }
        let snapshot = try #require(try await nextSnapshot())
        #expect(snapshot.members.first { $0.client == sessions[1] }?.infoText == #"{"v":2}"#)

        try await proxy.setOffline(true)
        let reading = Task { try await client.history("room:1", .latest, timeout: .seconds(20)) }
        while let state = await states.next() {
            if case .reconnecting = state { break }  // the call is waiting: an attempt failed
        }
        try await proxy.setOffline(false)
        #expect(try await reading.value.publications.isEmpty)
        await client.close()
        try await server.stop()
    }

    /// A call sent on a link that swallows it (the proxy stalls, then cuts) is sent again on the next connection and
    /// answered there.
    @Test func aCallLostWithItsConnectionIsSentAgainOnTheNext() async throws {
        let server = try await TestServer.start()
        let proxy = try await LinkFault.start(targetPort: server.port)
        defer { proxy.stop() }
        let client = try Switchboard.Client(url: "ws://127.0.0.1:\(proxy.port)", configuration: SwitchboardKitClientTests.quickReconnects)
        let first = try await client.publish("news", json: "1")
        try await proxy.setStalled(true)
        let reading = Task { try await client.history("news", .latest, timeout: .seconds(20)) }
        try await waitUntil { await client.driver.requestsAwaitingReply() == 1 }
        try await proxy.setStalled(false)
        try await proxy.cut()
        let page = try await reading.value
        #expect(page.publications.map(\.position) == [first])
        // Answered on a later connection (2 is the usual count; one run under load counted more).
        let connects = await client.statistics().connects
        #expect(connects >= 2)
        await client.close()
        try await server.stop()
    }
}

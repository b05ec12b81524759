import Foundation
import NIOConcurrencyHelpers
import NIOCore
import SwitchboardClient
import SwitchboardCore
import Testing

@testable import SwitchboardKit

/// A size the suite keeps small (the machine is shared with timing-sensitive tests, and every publication or cut costs
/// connections) and a long run raises through the environment, e.g. `SB_KIT_CUTS=200`.
func longRun(_ variable: String, default value: Int) -> Int {
    ProcessInfo.processInfo.environment[variable].flatMap { Int($0) } ?? value
}

/// Waits for a condition, checking every 10 ms, for at most 10 s (a state the SDK reports only as counters).
func waitUntil(_ condition: () async -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while await !condition() {
        guard ContinuousClock.now < deadline else { throw CancellationError() }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// Backoff delays, without sleeping.
@Suite struct BackoffTests {
    /// Attempt n's ceiling is min(maximum, initial · factor^(n−1)).
    @Test func theCeilingGrowsByTheFactorUpToTheMaximum() {
        let backoff = Switchboard.Backoff(initial: .milliseconds(500), maximum: .seconds(20), factor: 2)
        #expect(backoff.ceiling(attempt: 1) == .milliseconds(500))
        #expect(backoff.ceiling(attempt: 2) == .seconds(1))
        #expect(backoff.ceiling(attempt: 6) == .seconds(16))
        #expect(backoff.ceiling(attempt: 7) == .seconds(20))
        #expect(backoff.ceiling(attempt: 10_000) == .seconds(20))
    }

    /// Full jitter: every delay lies in [0, ceiling], and they spread over the whole window.
    @Test func delaysAreSpreadOverTheWholeWindow() {
        let backoff = Switchboard.Backoff(initial: .seconds(1), maximum: .seconds(1))
        var generator = SystemRandomNumberGenerator()
        let delays = (0..<1000).map { _ in backoff.delay(attempt: 3, using: &generator) }
        #expect(delays.allSatisfy { $0 >= .zero && $0 <= .seconds(1) })
        #expect(delays.contains { $0 < .milliseconds(100) })
        #expect(delays.contains { $0 > .milliseconds(900) })
    }
}

/// The exactly-once rule of one channel, without a connection.
@Suite struct ChannelStreamTests {
    private let epoch = "k3F9aZ0q"

    /// The next offset is delivered; an offset at or before the position is a duplicate and dropped.
    @Test func theNextOffsetIsDeliveredAndRepeatsAreDropped() {
        var stream = ChannelStream(since: Switchboard.Position(epoch: epoch, offset: 4))
        #expect(stream.accept(Switchboard.Position(epoch: epoch, offset: 5)) == .deliver)
        #expect(stream.accept(Switchboard.Position(epoch: epoch, offset: 5)) == .duplicate)
        #expect(stream.accept(Switchboard.Position(epoch: epoch, offset: 3)) == .duplicate)
        #expect(stream.position == Switchboard.Position(epoch: epoch, offset: 5))
    }

    /// A skipped offset is delivered but reported as a gap, unless a `conflated` push announced it.
    @Test func aSkipIsAGapUnlessItWasAnnounced() {
        var stream = ChannelStream(since: Switchboard.Position(epoch: epoch, offset: 1))
        #expect(stream.accept(Switchboard.Position(epoch: epoch, offset: 3)) == .deliverAfterGap)
        stream.announceSkip()
        #expect(stream.accept(Switchboard.Position(epoch: epoch, offset: 7)) == .deliver)
        #expect(stream.accept(Switchboard.Position(epoch: epoch, offset: 9)) == .deliverAfterGap)
    }

    /// After a reset the stream continues from the reset's position, in the new epoch.
    @Test func aRestartContinuesFromTheNewPosition() {
        var stream = ChannelStream(since: Switchboard.Position(epoch: epoch, offset: 40))
        stream.restart(at: Switchboard.Position(epoch: "P0q7LmZ2", offset: 5))
        #expect(stream.accept(Switchboard.Position(epoch: "P0q7LmZ2", offset: 5)) == .duplicate)
        #expect(stream.accept(Switchboard.Position(epoch: "P0q7LmZ2", offset: 6)) == .deliver)
    }
}

/// The SSE stream parser: events as EventSource splits them, whatever the chunks.
@Suite struct SSEEventParserTests {
    @Test func eventsAreSplitOnBlankLinesAcrossChunksAndCommentsAreSkipped() {
        var parser = SSETransport.EventParser()
        let stream = "retry: 2000\r\n\r\ndata: {\"push\":\"session\",\"session\":\"q8\"}\n\n:\n\nid: a:1\ndata: one\ndata:two\n\n"
        var events: [String] = []
        for byte in stream.utf8 { events += parser.feed(ByteBuffer(bytes: [byte])).map { String(buffer: $0) } }
        #expect(events == [#"{"push":"session","session":"q8"}"#, "one\ntwo"])
    }
}

/// The wire form of commands and messages (protocol.md §4.3, §4.4), byte for byte.
@Suite struct SwitchboardKitWireTests {
    @Test func commandsAreWrittenAsTheProtocolShowsThem() {
        #expect(String(buffer: Wire.connect(id: 1, token: "t")) == #"{"id":1,"cmd":"connect","token":"t"}"#)
        #expect(
            String(buffer: Wire.subscribe(id: 3, channel: "news", since: Switchboard.Position(epoch: "k3F9aZ0q", offset: 40)))
                == #"{"id":3,"cmd":"subscribe","channel":"news","since":{"epoch":"k3F9aZ0q","offset":40}}"#)
        #expect(
            String(buffer: Wire.publish(id: 5, channel: "chat:lobby", data: ByteBuffer(string: #"{"text":"hi"}"#), idempotencyKey: "msg-7f3a"))
                == #"{"id":5,"cmd":"publish","channel":"chat:lobby","data":{"text":"hi"},"idempotencyKey":"msg-7f3a"}"#)
    }

    @Test func pushesAndRepliesAreRead() {
        let publication = Wire.decode(
            ByteBuffer(string: #"{"push":"publication","channel":"news","epoch":"k3F9aZ0q","offset":41,"data":{"title":"a"},"sender":"alice"}"#))
        #expect(
            publication
                == .publication(
                    Switchboard.Publication(
                        channel: "news", position: Switchboard.Position(epoch: "k3F9aZ0q", offset: 41),
                        data: ByteBuffer(string: #"{"title":"a"}"#), sender: "alice")))
        #expect(
            Wire.decode(ByteBuffer(string: #"{"id":7,"error":{"code":108,"name":"invalid_channel","reason":"channel name is empty"}}"#))
                == .reply(id: 7, .error(Switchboard.ServerError(code: 108, name: "invalid_channel", reason: "channel name is empty"))))
        #expect(
            Wire.decode(ByteBuffer(string: #"{"push":"disconnect","code":4001,"reason":"server shutting down","reconnect":true}"#))
                == .disconnect(code: 4001, reason: "server shutting down"))
        #expect(Wire.decode(ByteBuffer(string: "not json")) == .ignored)
    }

    /// The live-app commands (protocol.md §4.3) and their pushes (§4.4).
    @Test func liveAppCommandsAndPushesAreWrittenAndRead() {
        #expect(
            String(buffer: Wire.history(id: 1, channel: "c", query: .before(offset: 43), limit: 2))
                == #"{"id":1,"cmd":"history","channel":"c","limit":2,"before":43}"#)
        #expect(
            String(buffer: Wire.history(id: 2, channel: "c", query: .since(Switchboard.Position(epoch: "e", offset: 4)), limit: 100))
                == #"{"id":2,"cmd":"history","channel":"c","limit":100,"since":{"epoch":"e","offset":4}}"#)
        #expect(
            String(buffer: Wire.history(id: 3, channel: "c", query: .latest, limit: 5))
                == #"{"id":3,"cmd":"history","channel":"c","limit":5,"latest":true}"#)
        #expect(
            String(buffer: Wire.subscribe(id: 4, channel: "room:1", since: nil, presenceInfo: ByteBuffer(string: #"{"a":1}"#), joinPresence: false))
                == #"{"id":4,"cmd":"subscribe","channel":"room:1","info":{"a":1},"join":false}"#)
        #expect(
            String(buffer: Wire.presenceUpdate(id: 5, channel: "room:1", info: nil))
                == #"{"id":5,"cmd":"presence_update","channel":"room:1","info":null}"#)
        #expect(
            String(buffer: Wire.signal(id: 6, channel: "c", type: "typing", data: nil)) == #"{"id":6,"cmd":"signal","channel":"c","type":"typing"}"#)
        #expect(
            String(buffer: Wire.ack(id: 7, channel: "dm:1", offset: 7, status: .read))
                == #"{"id":7,"cmd":"ack","channel":"dm:1","offset":7,"status":"read"}"#)
        #expect(
            Wire.decode(ByteBuffer(string: #"{"push":"join","channel":"room:1","client":"Zq","user":"alice","info":{"name":"A"}}"#))
                == .join(channel: "room:1", Switchboard.PresenceMember(client: "Zq", user: "alice", info: ByteBuffer(string: #"{"name":"A"}"#))))
        #expect(
            Wire.decode(ByteBuffer(string: #"{"push":"leave","channel":"room:1","client":"Zq"}"#)) == .leave(channel: "room:1", .init(client: "Zq")))
        #expect(
            Wire.decode(ByteBuffer(string: #"{"push":"receipt","channel":"dm:1","offset":7,"user":"bob","status":"read"}"#))
                == .receipt(Switchboard.Receipt(channel: "dm:1", offset: 7, user: "bob", status: .read)))
        #expect(Wire.decode(ByteBuffer(string: #"{"push":"receipt","channel":"dm:1","offset":7,"user":"bob","status":"lost"}"#)) == .ignored)
        #expect(
            Wire.decode(ByteBuffer(string: #"{"push":"signal","channel":"c","type":"typing","client":"Zq"}"#))
                == .signal(Switchboard.Signal(channel: "c", type: "typing", client: "Zq", user: nil, data: nil)))
    }

    /// A `PresenceList` converges whatever the order of a duplicate join or a leave of an unknown client.
    @Test func aPresenceListIgnoresRepeatedJoinsAndUnknownLeaves() {
        var list = Switchboard.PresenceList()
        let alice = Switchboard.PresenceMember(client: "a", user: "alice")
        list.apply(.presence(Switchboard.PresencePage(channel: "room:1", clients: 1, users: 1, members: [alice], next: nil)))
        list.apply(.join(alice))
        list.apply(.leave(Switchboard.PresenceMember(client: "x")))
        list.apply(.presenceUpdate(Switchboard.PresenceMember(client: "x", info: ByteBuffer(string: "1"))))
        #expect(list.clients == 1 && list.members == ["a": alice])
        list.apply(.join(Switchboard.PresenceMember(client: "b")))
        list.apply(.leave(alice))
        #expect(list.clients == 1 && list.members.keys.sorted() == ["b"])
    }

    /// protocol.md §6.
    @Test func closeCodesFollowTheOneRule() {
        for code: UInt16 in [1001, 1006, 1011, 1012, 1013, 4000, 4001, 4002, 4499] { #expect(Wire.shouldReconnect(afterCloseCode: code)) }
        for code: UInt16 in [1000, 1002, 1003, 1007, 1008, 1009, 1010, 4500, 4501, 4502, 4999] {
            #expect(!Wire.shouldReconnect(afterCloseCode: code))
        }
    }

    @Test func urlsNameTheWebSocketEndpoint() throws {
        #expect(try Switchboard.Client.endpoint("ws://127.0.0.1:8080") == .init(host: "127.0.0.1", port: 8080, path: "/connection/websocket"))
        #expect(try Switchboard.Client.endpoint("http://[::1]:9/x") == .init(host: "::1", port: 9, path: "/x"))
        #expect(
            try Switchboard.Client.endpoint("wss://example.com") == .init(host: "example.com", port: 443, path: "/connection/websocket", secure: true)
        )
        #expect(try Switchboard.Client.endpoint("https://[::1]:8443").secure)
        #expect(throws: Switchboard.ClientError.self) { try Switchboard.Client.endpoint("ftp://example.com") }
        #expect(throws: Switchboard.ClientError.self) { try Switchboard.Client.endpoint("ws://host:99999") }
    }
}

/// The SDK client against the real server, directly or through the link-fault proxy (`tools/linkfault`).
@Suite(.timeLimit(.minutes(3))) struct SwitchboardKitClientTests {
    /// Reconnects within milliseconds, so that many cuts fit in a test.
    static let quickReconnects = Switchboard.Client.Configuration(
        backoff: Switchboard.Backoff(initial: .milliseconds(5), maximum: .milliseconds(50)))

    private static func deepHistory(_ configuration: inout HubConfiguration) {
        configuration.channelDefaults.historySize = 100_000
    }

    /// Publishes through the HTTP API and returns the position.
    private func publish(_ server: TestServer, _ channel: String, _ data: String) async throws -> Switchboard.Position {
        let response = try await server.http("POST", "/api/publish", body: #"{"channel":"\#(channel)","data":\#(data)}"#)
        let epoch = try #require(response.json?["epoch"] as? String, "\(response.status) \(response.bodyText)")
        let offset = try #require(response.json?["offset"] as? Int)
        return Switchboard.Position(epoch: epoch, offset: UInt64(offset))
    }

    /// Publishes 2, 3, … at 50 per second until `done`, then the string "done"; returns the last number.
    private func publishNumbers(to server: TestServer, after first: Int, until done: @Sendable () -> Bool) async throws -> Int {
        var number = first
        while !done() {
            number += 1
            _ = try await publish(server, "news", "\(number)")
            try await Task.sleep(for: .milliseconds(20))  // pacing at 50 per second, not synchronisation
        }
        _ = try await publish(server, "news", #""done""#)
        return number
    }

    /// The next publication, past the `.subscribed` notes that each connection adds.
    private func nextPublication(_ events: inout Switchboard.Subscription.Iterator) async throws -> Switchboard.Publication {
        var event = try await events.next()
        while case .subscribed = event { event = try await events.next() }
        guard case .publication(let publication) = event else {
            Issue.record("expected a publication, got \(String(describing: event))")
            throw CancellationError()
        }
        return publication
    }

    @Test func aSubscriptionDeliversPublicationsAndPublishReturnsThePosition() async throws {
        let server = try await TestServer.start()
        let client = try Switchboard.Client(url: "ws://127.0.0.1:\(server.port)")
        let start = try await publish(server, "news", "0")
        var events = client.subscribe("news", since: start).makeAsyncIterator()
        let position = try await client.publish("news", json: #"{"text": "hi"}"#, idempotencyKey: "k-1")
        #expect(position == Switchboard.Position(epoch: start.epoch, offset: 2))
        let publication = try await nextPublication(&events)
        #expect(publication.position == position)
        #expect(publication.text == #"{"text":"hi"}"#)
        // The same key again: the original position, and nothing new is published.
        #expect(try await client.publish("news", json: #"{"text":"hi"}"#, idempotencyKey: "k-1") == position)
        #expect(try await publish(server, "news", "3").offset == 3)
        #expect(try await nextPublication(&events).text == "3")
        await #expect(throws: Switchboard.ClientError.self) { try await client.publish("news", json: "{oops") }
        await client.close()
        try await server.stop()
    }

    /// Link cuts (30 in the suite, `SB_KIT_CUTS=200` for the long run), each once the new connection has delivered a
    /// publication, while an API publisher publishes 50 per second: every publication arrives once, in order, without a
    /// reset; on WebSocket and on SSE.
    @Test(arguments: [Switchboard.Client.Transport.webSocket, .sse])
    func everyPublicationArrivesExactlyOnceInOrderAcrossManyLinkCuts(over transport: Switchboard.Client.Transport) async throws {
        let cuts = longRun("SB_KIT_CUTS", default: 30)
        let server = try await TestServer.start(Self.deepHistory)
        let proxy = try await LinkFault.start(targetPort: server.port)
        defer { proxy.stop() }
        var configuration = Self.quickReconnects
        configuration.transports = [transport]
        let client = try Switchboard.Client(url: "ws://127.0.0.1:\(proxy.port)", configuration: configuration)
        let start = try await publish(server, "news", "1")
        let cutsDone = NIOLockedValueBox(0)
        async let lastPublished = publishNumbers(to: server, after: 1, until: { cutsDone.withLockedValue { $0 } >= cuts })
        var received: [Int] = []
        var resets = 0
        var cutAtConnect = 0
        for try await event in client.subscribe("news", since: Switchboard.Position(epoch: start.epoch, offset: 0)) {
            switch event {
            case .reset: resets += 1
            case .subscribed, .presence, .join, .leave, .presenceUpdate, .signal, .receipt: continue
            case .publication(let publication):
                guard let number = Int(publication.text) else { break }
                received.append(number)
                let connects = await client.statistics().connects
                if connects > cutAtConnect, cutsDone.withLockedValue({ $0 }) < cuts {
                    cutAtConnect = connects
                    try await proxy.cut()
                    cutsDone.withLockedValue { $0 += 1 }
                }
                continue
            }
            if case .publication(let publication) = event, publication.text == #""done""# { break }
        }
        let last = try await lastPublished
        #expect(received == Array(1...last))
        #expect(resets == 0)
        let statistics = await client.statistics()
        #expect(statistics.connects == cuts + 1)
        #expect(statistics.transport == transport)
        #expect(statistics.duplicatesDropped == 0 && statistics.gapsSeen == 0)
        await client.close()
        try await server.stop()
    }

    /// The in-memory engine loses history on restart: the client resubscribes with its old position and gets exactly
    /// one reset, then the new stream's publications.
    @Test func aRestartOfTheInMemoryEngineYieldsExactlyOneReset() async throws {
        let first = try await TestServer.start()
        let proxy = try await LinkFault.start(targetPort: first.port)
        defer { proxy.stop() }
        let client = try Switchboard.Client(url: "ws://127.0.0.1:\(proxy.port)", configuration: Self.quickReconnects)
        let start = try await publish(first, "news", "1")
        var events = client.subscribe("news", since: Switchboard.Position(epoch: start.epoch, offset: 0)).makeAsyncIterator()
        _ = try await publish(first, "news", "2")
        #expect(try await nextPublication(&events).text == "1")
        #expect(try await nextPublication(&events).text == "2")
        let second = try await TestServer.start()
        try await proxy.setTarget(port: second.port)
        try await first.stop()  // 4001: the client reconnects, through the proxy, to the new server
        let event = try await events.next()
        guard case .reset(let reset) = event else {
            Issue.record("expected a reset, got \(String(describing: event))")
            return
        }
        #expect(reset.reason == "epoch changed: history was lost")
        #expect(reset.position.epoch != start.epoch)
        let after = try await publish(second, "news", "3")
        let publication = try await nextPublication(&events)
        #expect(publication.position == after && publication.text == "3")
        #expect(await client.statistics().resets == 1)
        await client.close()
        try await second.stop()
    }

    /// The SQLite engine keeps history across a restart: publications made while the client was away are recovered,
    /// none lost, no reset.
    @Test func aRestartOfTheSQLiteEngineLosesNothing() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-kit-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sqlite: (inout HubConfiguration) -> Void = { configuration in
            configuration.engineType = .sqlite
            configuration.sqlitePath = directory
        }
        let first = try await TestServer.start(sqlite)
        let proxy = try await LinkFault.start(targetPort: first.port)
        defer { proxy.stop() }
        let client = try Switchboard.Client(url: "ws://127.0.0.1:\(proxy.port)", configuration: Self.quickReconnects)
        let start = try await publish(first, "news", "1")
        var events = client.subscribe("news", since: Switchboard.Position(epoch: start.epoch, offset: 0)).makeAsyncIterator()
        #expect(try await nextPublication(&events).text == "1")
        try await first.stop()
        let second = try await TestServer.start(sqlite)
        _ = try await publish(second, "news", "2")
        _ = try await publish(second, "news", "3")
        try await proxy.setTarget(port: second.port)
        #expect(try await nextPublication(&events).text == "2")
        #expect(try await nextPublication(&events).text == "3")
        _ = try await publish(second, "news", "4")
        let fourth = try await nextPublication(&events)
        #expect(fourth.text == "4" && fourth.position.epoch == start.epoch)
        #expect(await client.statistics().resets == 0)
        await client.close()
        try await second.stop()
    }

    /// A proxy that refuses WebSocket upgrades: after two failed attempts the client falls back to SSE, where it
    /// subscribes, receives and publishes.
    @Test func theClientFallsBackToSSEWhenWebSocketIsRefused() async throws {
        let server = try await TestServer.start()
        let proxy = try await LinkFault.start(targetPort: server.port)
        defer { proxy.stop() }
        try await proxy.refuseWebSocket(true)
        let client = try Switchboard.Client(url: "ws://127.0.0.1:\(proxy.port)", configuration: Self.quickReconnects)
        let start = try await publish(server, "news", "1")
        var events = client.subscribe("news", since: Switchboard.Position(epoch: start.epoch, offset: 0)).makeAsyncIterator()
        #expect(try await nextPublication(&events).text == "1")
        let position = try await client.publish("news", json: "2")
        #expect(try await nextPublication(&events).position == position)
        let statistics = await client.statistics()
        #expect(statistics.transport == .sse)
        #expect(statistics.transportSwitches == 1)
        #expect(statistics.connects == 1)
        await client.close()
        try await server.stop()
    }

    /// A publish waits for a connection; cancelling its task ends the wait with CancellationError, and a publish that
    /// was never sent is never published.
    @Test func cancellingAWaitingPublishThrowsAndPublishesNothing() async throws {
        let server = try await TestServer.start()
        let proxy = try await LinkFault.start(targetPort: server.port)
        defer { proxy.stop() }
        try await proxy.setOffline(true)
        let client = try Switchboard.Client(url: "ws://127.0.0.1:\(proxy.port)", configuration: Self.quickReconnects)
        let publishing = Task { try await client.publish("news", json: "1") }
        var states = client.connectionStates().makeAsyncIterator()
        while let state = await states.next() {
            if case .reconnecting = state { break }  // the publish is waiting: the first attempt failed
        }
        publishing.cancel()
        await #expect(throws: CancellationError.self) { try await publishing.value }
        try await proxy.setOffline(false)
        let start = try await publish(server, "news", "2")
        #expect(start.offset == 1)
        await client.close()
        try await server.stop()
    }

    /// Cancelling the task that iterates a subscription unsubscribes on the server.
    @Test func cancellingTheConsumingTaskUnsubscribes() async throws {
        let server = try await TestServer.start()
        let client = try Switchboard.Client(url: "ws://127.0.0.1:\(server.port)")
        let start = try await publish(server, "news", "1")
        let (firstArrived, arrived) = AsyncStream.makeStream(of: Void.self)
        let consumer = Task {
            for try await _ in client.subscribe("news", since: Switchboard.Position(epoch: start.epoch, offset: 0)) { arrived.yield() }
        }
        var iterator = firstArrived.makeAsyncIterator()
        await iterator.next()
        try await server.waitForMetric("switchboard_subscriptions", toBe: 1)
        consumer.cancel()
        try await server.waitForMetric("switchboard_subscriptions", toBe: 0)
        await client.close()
        try await server.stop()
    }

    /// A refused token closes with 4501, which means "do not reconnect": the subscription ends with that code.
    @Test func aRefusedTokenEndsTheSubscriptionWithTheStopCode() async throws {
        let server = try await TestServer.start()
        let client = try Switchboard.Client(url: "ws://127.0.0.1:\(server.port)", token: "not-a-token")
        var states = client.connectionStates().makeAsyncIterator()
        #expect(await states.next() == .idle)
        do {
            for try await _ in client.subscribe("news") {}
            Issue.record("the subscription ended without an error")
        } catch let error as Switchboard.ClientError {
            #expect(error.code == .serverStopped)
            #expect(error.closeCode == 4501)
        }
        var last: Switchboard.ConnectionState?
        while let state = await states.next() { last = state }
        #expect(last == .disconnected(code: 4501, reason: "invalid token"))
        try await server.stop()
    }
}

/// Token providers: asked before connecting, after a refusal, and on the server's `refresh` push (in band).
@Suite(.timeLimit(.minutes(1))) struct SwitchboardKitTokenTests {
    private struct ProviderDown: Error {}

    private func publish(_ server: TestServer, _ channel: String, _ data: String) async throws -> Switchboard.Position {
        let response = try await server.http("POST", "/api/publish", body: #"{"channel":"\#(channel)","data":\#(data)}"#)
        let epoch = try #require(response.json?["epoch"] as? String)
        let offset = try #require(response.json?["offset"] as? Int)
        return Switchboard.Position(epoch: epoch, offset: UInt64(offset))
    }

    /// The token expires mid-stream: the server's `refresh` push makes the client ask its provider and send the new
    /// token in band; the connection, and the stream, go on.
    @Test func aTokenThatExpiresMidStreamIsRefreshedInBandWithoutAReconnect() async throws {
        let clock = ManualTokenClock()
        let server = try await TestServer.start(clock: clock) { $0.heartbeat.interval = .milliseconds(20) }
        let calls = NIOLockedValueBox(0)
        let client = try Switchboard.Client(
            url: "ws://127.0.0.1:\(server.port)",
            token: .provider {
                calls.withLockedValue { $0 += 1 }
                return try await TestServer.token("alice", lifetime: .seconds(60), now: clock.date)
            })
        let start = try await publish(server, "chat:refresh", "1")
        var events = client.subscribe("chat:refresh", since: Switchboard.Position(epoch: start.epoch, offset: 0)).makeAsyncIterator()
        #expect(try await events.next() == .subscribed(Switchboard.Subscribed(channel: "chat:refresh", position: start, recovered: true)))
        #expect(
            try await events.next() == .publication(Switchboard.Publication(channel: "chat:refresh", position: start, data: ByteBuffer(string: "1"))))
        clock.advance(by: 120)
        try await waitUntil { await client.statistics().refreshes == 1 }
        let second = try await publish(server, "chat:refresh", "2")
        #expect(
            try await events.next() == .publication(Switchboard.Publication(channel: "chat:refresh", position: second, data: ByteBuffer(string: "2")))
        )
        #expect(calls.withLockedValue { $0 } == 2)
        #expect(await client.statistics().connects == 1)
        await client.close()
        try await server.stop()
    }

    /// A provider that throws ends the subscription with `tokenProviderFailed`, and the client with `.failed`.
    @Test func aProviderThatThrowsEndsTheSubscriptionWithATypedError() async throws {
        let server = try await TestServer.start()
        let client = try Switchboard.Client(url: "ws://127.0.0.1:\(server.port)", token: .provider { throw ProviderDown() })
        var states = client.connectionStates().makeAsyncIterator()
        do {
            for try await _ in client.subscribe("news") {}
            Issue.record("the subscription ended without an error")
        } catch let error as Switchboard.ClientError {
            #expect(error.code == .tokenProviderFailed)
            #expect(error.reason.contains("ProviderDown"))
        }
        var last: Switchboard.ConnectionState?
        while let state = await states.next() { last = state }
        guard case .failed(let error) = last else {
            Issue.record("last state \(String(describing: last))")
            return
        }
        #expect(error.code == .tokenProviderFailed)
        try await server.stop()
    }

    /// A token the server refuses (close 4501) makes the client ask its provider again and reconnect, not stop.
    @Test func aRefusedTokenMakesTheClientAskItsProviderAgain() async throws {
        let server = try await TestServer.start()
        let calls = NIOLockedValueBox(0)
        let client = try Switchboard.Client(
            url: "ws://127.0.0.1:\(server.port)",
            token: .provider {
                let call = calls.withLockedValue {
                    $0 += 1; return $0
                }
                return call == 1 ? "not-a-token" : try await TestServer.token("alice")
            }, configuration: SwitchboardKitClientTests.quickReconnects)
        let start = try await publish(server, "news", "1")
        var events = client.subscribe("news", since: Switchboard.Position(epoch: start.epoch, offset: 0)).makeAsyncIterator()
        #expect(try await events.next() == .subscribed(Switchboard.Subscribed(channel: "news", position: start, recovered: true)))
        #expect(try await events.next() == .publication(Switchboard.Publication(channel: "news", position: start, data: ByteBuffer(string: "1"))))
        #expect(calls.withLockedValue { $0 } == 2)
        #expect(await client.statistics().connects == 1)
        await client.close()
        try await server.stop()
    }
}

/// The backend publisher against the real server through the HTTP-fault proxy (`tools/linkfault/httpfault.mjs`).
@Suite(.timeLimit(.minutes(5))) struct SwitchboardKitAPITests {
    /// Quick retries, so that thousands of faults fit in a test.
    static let quickRetries = Switchboard.API.Configuration(
        backoff: Switchboard.Backoff(initial: .milliseconds(5), maximum: .milliseconds(100)), maxAttempts: 20)

    /// Every data value of `channel`'s history, oldest first, read through `GET /api/history` page by page.
    private func history(_ server: TestServer, _ channel: String) async throws -> [String] {
        var values: [String] = []
        var since: String?
        while true {
            let query = "/api/history?channel=\(channel)&limit=1000" + (since.map { "&since=\($0)" } ?? "")
            let page = try #require(try await server.http("GET", query).json)
            let publications = try #require(page["publications"] as? [[String: Any]])
            guard let last = publications.last, let offset = last["offset"] as? Int, let epoch = page["epoch"] as? String else {
                return values
            }
            values += publications.map { "\($0["data"] ?? "")" }
            since = "\(epoch):\(offset)"
        }
    }

    /// Publications (1,000 in the suite, `SB_KIT_PUBLICATIONS=10000` for the long run), 8 at a time, while the proxy
    /// refuses 10 % of requests with 503 and drops the answer of 5 % after the server published: every publication is
    /// in the history exactly once.
    @Test func everyPublicationIsStoredExactlyOnceThroughRefusalsAndDroppedAnswers() async throws {
        let count = longRun("SB_KIT_PUBLICATIONS", default: 1_000)
        let server = try await TestServer.start { $0.channelDefaults.historySize = 100_000 }
        let proxy = try await HTTPFault.start(targetPort: server.port, refuse: 0.1, drop: 0.05)
        defer { proxy.stop() }
        let api = try Switchboard.API(baseURL: "http://127.0.0.1:\(proxy.port)", apiKey: TestServer.apiKey, configuration: Self.quickRetries)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for number in stride(from: worker + 1, through: count, by: 8) {
                        try await api.publish("ledger", json: "\(number)")
                    }
                }
            }
            try await group.waitForAll()
        }
        let stored = try await history(server, "ledger")
        #expect(stored.count == count)
        #expect(Set(stored) == Set((1...count).map(String.init)))
        let faults = try await proxy.stats()
        #expect(faults["refused", default: 0] > count / 20 && faults["dropped", default: 0] > count / 50)
        try await server.stop()
    }

    /// History pages, oldest first, continue exactly after `since`; a position of another epoch says it was not recovered.
    @Test func historyIsReadPageByPageAfterAPosition() async throws {
        let server = try await TestServer.start()
        let api = try Switchboard.API(baseURL: "http://127.0.0.1:\(server.port)", apiKey: TestServer.apiKey)
        var positions: [Switchboard.Position] = []
        for number in 1...5 { positions.append(try await api.publish("news", json: #"{"n":\#(number)}"#)) }
        let page = try await api.history("news", since: positions[1], limit: 2)
        #expect(page.publications.map(\.text) == [#"{"n":3}"#, #"{"n":4}"#])
        #expect(page.publications.map(\.position) == [positions[2], positions[3]])
        #expect(page.position == positions[4] && page.recovered == true)
        let rest = try await api.history("news", since: positions[3])
        #expect(rest.publications.map(\.text) == [#"{"n":5}"#])
        let lost = try await api.history("news", since: Switchboard.Position(epoch: "P0q7LmZ2", offset: 3))
        #expect(lost.recovered == false && lost.publications.count == 5)
        await #expect(throws: Switchboard.ServerError.self) { try await api.history("bad name") }
        try await server.stop()
    }

    /// Batches (10 of 100) whose answer is lost are sent again whole with the same keys: each item is stored once.
    @Test func batchesAreStoredExactlyOnceThroughRefusalsAndDroppedAnswers() async throws {
        let server = try await TestServer.start { $0.channelDefaults.historySize = 100_000 }
        let proxy = try await HTTPFault.start(targetPort: server.port, refuse: 0.1, drop: 0.05, seed: 7)
        defer { proxy.stop() }
        let api = try Switchboard.API(baseURL: "http://127.0.0.1:\(proxy.port)", apiKey: TestServer.apiKey, configuration: Self.quickRetries)
        var offsets: [UInt64] = []
        for batch in 0..<10 {
            let items = (0..<100).map { Switchboard.API.Item(channel: "ledger", json: "\(batch * 100 + $0 + 1)") }
            for result in try await api.publish(batch: items) { offsets.append(try result.get().offset) }
        }
        #expect(offsets == Array(1...1000))
        let stored = try await history(server, "ledger")
        #expect(stored == (1...1000).map(String.init))
        let refusal = try await api.publish(batch: [Switchboard.API.Item(channel: "bad name", json: "1")])
        #expect(throws: Switchboard.ServerError.self) { try refusal[0].get() }
        try await server.stop()
    }
}

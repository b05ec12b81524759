import SwitchboardClient
import Testing

/// The raw endpoints serve plain `new WebSocket(url)` and `new EventSource(url)` code with no SDK.
@Suite(.timeLimit(.minutes(1))) struct RawEndpointTests {
    @Test func rawWebSocketReceivesEachPublicationsDataAsOneTextFrame() async throws {
        let server = try await TestServer.start()
        let client = try await server.webSocket(path: "/raw/ws/ticker:acme", subprotocols: [])
        try await server.publish("ticker:acme", #"{"price":12.5}"#)
        #expect(await client.receiveText() == #"{"price":12.5}"#)
        try await server.stop()
    }

    @Test func rawWebSocketPublishesJSONAsIsAndOtherTextAsAString() async throws {
        let server = try await TestServer.start()
        let watcher = try await server.sse(path: "/raw/sse/room")
        let client = try await server.webSocket(path: "/raw/ws/room", subprotocols: [])
        try await client.send(text: #"{"text": "hi"}"#)
        try await client.send(text: "plain words")
        #expect(await watcher.next()?.data == #"{"text":"hi"}"#)
        #expect(await watcher.next()?.data == #""plain words""#)
        try await server.stop()
    }

    @Test func rawWebSocketRefusesBinaryFramesWith1003() async throws {
        let server = try await TestServer.start()
        let client = try await server.webSocket(path: "/raw/ws/room", subprotocols: [])
        try await client.sendFrame(opcode: 0x2, payload: [0xFF])
        #expect(await client.closeCode() == 1003)
        try await server.stop()
    }

    @Test func rawWebSocketPublishingWhereClientsMayNotClosesWith1008() async throws {
        let server = try await TestServer.start { configuration in
            var readonly = configuration.channelDefaults
            readonly.allowClientPublish = false
            configuration.namespaces["feed"] = readonly
        }
        let client = try await server.webSocket(path: "/raw/ws/feed:main", subprotocols: [])
        try await client.send(text: "1")
        #expect(await client.closeCode() == 1008)
        try await server.stop()
    }

    @Test func rawSSEDeliversDataWithAnIdAndResumesFromLastEventID() async throws {
        let server = try await TestServer.start()
        let first = try await server.sse(path: "/raw/sse/news")
        let published = try await server.publish("news", #""one""#)
        let event = await first.next()
        #expect(event?.data == #""one""#)
        #expect(event?.id?.hasSuffix(":\(published)") == true)
        let lastEventID = try #require(first.lastEventID)
        await first.close()

        try await server.publish("news", #""two""#)
        try await server.publish("news", #""three""#)
        let second = try await server.sse(path: "/raw/sse/news", lastEventID: lastEventID)
        #expect(await second.next()?.data == #""two""#)
        #expect(await second.next()?.data == #""three""#)
        try await server.stop()
    }

    @Test func rawSSESetsLastEventIDBeforeTheFirstPublication() async throws {
        let server = try await TestServer.start()
        try await server.publish("quiet", "1")
        let first = try await server.sse(path: "/raw/sse/quiet")
        // No event is dispatched until a publication, but the id line already positions the stream.
        try await server.publish("quiet", "2")
        _ = await first.next()
        let lastEventID = try #require(first.lastEventID)
        #expect(lastEventID.hasSuffix(":2"))
        try await server.stop()
    }

    @Test func rawSSEResumeBeyondTheWindowSendsAResetEvent() async throws {
        let server = try await TestServer.start { $0.channelDefaults.historySize = 1 }
        let first = try await server.sse(path: "/raw/sse/narrow")
        try await server.publish("narrow", "1")
        _ = await first.next()
        let lastEventID = try #require(first.lastEventID)
        await first.close()
        for value in 2...4 { try await server.publish("narrow", "\(value)") }
        let second = try await server.sse(path: "/raw/sse/narrow", lastEventID: lastEventID)
        let reset = await second.next()
        #expect(reset?.event == "reset")
        #expect(object(reset?.data)?["offset"] as? Int == 4)
        try await server.stop()
    }

    @Test func rawEndpointWithAnInvalidChannelIsRefusedWith400() async throws {
        let server = try await TestServer.start()
        let refusal = await #expect(throws: HTTPRefusal.self) { try await server.sse(path: "/raw/sse/bad%20name") }
        #expect(refusal?.status == 400)
        #expect((object(refusal?.body)?["error"] as? [String: Any])?["code"] as? Int == 108)
        try await server.stop()
    }
}

@Suite(.timeLimit(.minutes(1))) struct DevelopmentOriginTests {
    @Test func sseFromALocalhostPageIsReadableCrossOriginInDevelopmentMode() async throws {
        let server = try await TestServer.start()
        let local = try await SSEClient.connect(
            host: "127.0.0.1", port: server.port, path: "/raw/sse/x", headers: [("origin", "http://localhost:3000")])
        #expect(local.head.header("access-control-allow-origin") == "http://localhost:3000")
        let foreign = await #expect(throws: HTTPRefusal.self) {
            try await SSEClient.connect(host: "127.0.0.1", port: server.port, path: "/raw/sse/x", headers: [("origin", "https://evil.example")])
        }
        #expect(foreign?.status == 403)
        try await server.stop()
    }

    /// The client sees the 101 before the server has read the channel's position: a publication made in between is
    /// the subscriber's (it came after the subscription started), not part of a past it never asked for.
    @Test func aPublicationMadeAfterTheUpgradeButBeforeThePositionWasReadIsDelivered() async throws {
        let broker = FaultyBroker()
        broker.set("recover", .gated)
        let server = try await TestServer.start(broker: broker)
        var events = broker.events.makeAsyncIterator()
        let client = try await server.webSocket(path: "/raw/ws/feed:race", subprotocols: [])
        while let event = await events.next(), event != "start recover" {}
        try await server.publish("feed:race", #"{"n":1}"#)
        broker.open("recover")
        #expect(await client.receiveText() == #"{"n":1}"#)
        try await server.publish("feed:race", #"{"n":2}"#)
        #expect(await client.receiveText() == #"{"n":2}"#)
        try await server.stop()
    }
}

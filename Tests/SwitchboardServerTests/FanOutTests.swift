import Testing

@Suite(.timeLimit(.minutes(1))) struct FanOutTests {
    @Test func webSocketAndSSESubscribersReceiveTheSamePublication() async throws {
        let server = try await TestServer.start()
        let ws = try await server.webSocket()
        let reply = try await ws.command(#"{"id":1,"cmd":"subscribe","channel":"news:today"}"#, id: 1)
        #expect((reply?["result"] as? [String: Any])?["channel"] as? String == "news:today")
        let sse = try await server.sse(path: "/connection/sse?channel=news:today")
        #expect(await sse.nextPush("subscribed")?["channel"] as? String == "news:today")

        let offset = try await server.publish("news:today", #"{"headline":"hello"}"#)

        let viaWebSocket = await ws.nextPush("publication")
        let viaSSE = await sse.nextPush("publication")
        #expect(viaWebSocket?["offset"] as? Int == offset)
        #expect(viaSSE?["offset"] as? Int == offset)
        #expect((viaWebSocket?["data"] as? [String: Any])?["headline"] as? String == "hello")
        #expect((viaSSE?["data"] as? [String: Any])?["headline"] as? String == "hello")
        #expect(viaWebSocket?["epoch"] as? String == viaSSE?["epoch"] as? String)
        try await server.stop()
    }

    /// `server.write_delay_ms` holds the flush: a timer never fires early, so the push cannot arrive before it.
    @Test func aWriteDelayHoldsDeliveriesForAtLeastTheDelay() async throws {
        let server = try await TestServer.start { $0.writeDelay = .milliseconds(300) }
        let ws = try await server.webSocket()
        _ = try await ws.command(#"{"id":1,"cmd":"subscribe","channel":"slow:lane"}"#, id: 1)
        let start = ContinuousClock.now
        _ = try await server.publish("slow:lane", "1")
        #expect(await ws.nextPush("publication")?["offset"] as? Int == 1)
        #expect(ContinuousClock.now - start >= .milliseconds(290))
        try await server.stop()
    }

    @Test func withAWriteDelayEveryPublicationStillArrivesOnceAndInOrder() async throws {
        let server = try await TestServer.start { $0.writeDelay = .milliseconds(20) }
        let ws = try await server.webSocket()
        _ = try await ws.command(#"{"id":1,"cmd":"subscribe","channel":"burst:x"}"#, id: 1)
        let sse = try await server.sse(path: "/connection/sse?channel=burst:x")
        #expect(await sse.nextPush("subscribed") != nil)
        // One batch request: 200 separate HTTP publishes took over 35 s on a loaded machine, longer than the
        // heartbeat lets a client that is not reading yet (this one reads after publishing) stay connected.
        let batch = (1...200).map { #"{"channel":"burst:x","data":\#($0)}"# }.joined(separator: ",")
        #expect(try await server.http("POST", "/api/publish", body: #"{"publications":[\#(batch)]}"#).status == 200)
        for offset in 1...200 {
            #expect(await ws.nextPush("publication")?["offset"] as? Int == offset)
            #expect(await sse.nextPush("publication")?["offset"] as? Int == offset)
        }
        try await server.stop()
    }

    @Test func clientPublishReachesOtherSubscribersAndRepliesWithOffset() async throws {
        let server = try await TestServer.start()
        let subscriber = try await server.webSocket()
        _ = try await subscriber.command(#"{"id":1,"cmd":"subscribe","channel":"chat:room"}"#, id: 1)
        let publisher = try await server.webSocket()
        let reply = try await publisher.command(#"{"id":7,"cmd":"publish","channel":"chat:room","data":{"text":"hi"}}"#, id: 7)
        let result = reply?["result"] as? [String: Any]
        #expect(result?["offset"] as? Int == 1)
        let push = await subscriber.nextPush("publication")
        #expect(push?["offset"] as? Int == 1)
        #expect((push?["data"] as? [String: Any])?["text"] as? String == "hi")
        try await server.stop()
    }

    @Test func publishedDataIsMinifiedOnceAndDeliveredVerbatim() async throws {
        let server = try await TestServer.start()
        let sse = try await server.sse(path: "/raw/sse/feed")
        try await server.publish("feed", #"{ "a" : [1, 2 ,3], "s": "x y" }"#)
        let event = await sse.next()
        #expect(event?.data == #"{"a":[1,2,3],"s":"x y"}"#)
        try await server.stop()
    }

    @Test func batchPublishReturnsOneResultPerItemInOrder() async throws {
        let server = try await TestServer.start()
        let response = try await server.http(
            "POST", "/api/publish", body: #"{"publications":[{"channel":"b:1","data":1},{"channel":"bad name","data":2},{"channel":"b:1","data":3}]}"#
        )
        #expect(response.status == 200)
        let results = response.json?["results"] as? [[String: Any]]
        #expect(results?.count == 3)
        #expect(results?[0]["offset"] as? Int == 1)
        #expect((results?[1]["error"] as? [String: Any])?["code"] as? Int == 108)
        #expect(results?[2]["offset"] as? Int == 2)
        try await server.stop()
    }

    @Test func historyAPIReturnsHeldPublications() async throws {
        let server = try await TestServer.start()
        for value in 1...5 { try await server.publish("h:1", "\(value)") }
        let response = try await server.http("GET", "/api/history?channel=h:1&limit=3")
        let publications = response.json?["publications"] as? [[String: Any]]
        #expect(publications?.map { $0["data"] as? Int } == [1, 2, 3])
        let epoch = response.json?["epoch"] as? String ?? ""
        let since = try await server.http("GET", "/api/history?channel=h:1&since=\(epoch):3")
        #expect((since.json?["publications"] as? [[String: Any]])?.map { $0["offset"] as? Int } == [4, 5])
        #expect(since.json?["recovered"] as? Bool == true)
        try await server.stop()
    }
}

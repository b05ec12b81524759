import SwitchboardClient
import Testing

extension SSEClient {
    /// Reads the stream's first event, the `session` push, and returns the address commands are posted to.
    func sessionAddress() async -> String? {
        await nextPush("session")?["session"] as? String
    }

    /// The next event whose JSON data is the reply with `id`.
    func reply(_ id: Int) async -> [String: Any]? {
        while let event = await next() {
            if let message = object(event.data), message["id"] as? Int == id { return message }
        }
        return nil
    }
}

@Suite(.timeLimit(.minutes(1))) struct SSECommandChannelTests {
    @Test func aStreamWithoutChannelsOpensAndNamesItsSessionFirst() async throws {
        let server = try await TestServer.start()
        let sse = try await server.sse(path: "/connection/sse")
        let first = await sse.next()
        #expect(object(first?.data)?["push"] as? String == "session")
        #expect((object(first?.data)?["session"] as? String)?.count == 32)
    }

    @Test func theSessionAddressIsNotTheClientIDOthersMaySee() async throws {
        let server = try await TestServer.start()
        let sse = try await server.sse(path: "/connection/sse")
        let address = try #require(await sse.sessionAddress())
        #expect(try await server.request("POST", "/connection/\(address)/command", body: #"{"id":1,"cmd":"connect"}"#).status == 202)
        let client = (await sse.reply(1)?["result"] as? [String: Any])?["client"] as? String
        #expect(client != nil && client != address)
        #expect(try await server.request("POST", "/connection/\(client!)/command", body: #"{"id":2,"cmd":"ping"}"#).status == 404)
    }

    @Test func commandsPostedToTheSessionAreAnsweredOnTheStreamWithPublicationsAfterTheReply() async throws {
        let server = try await TestServer.start()
        try await server.publish("feed", "1")
        let sse = try await server.sse(path: "/connection/sse")
        let address = try #require(await sse.sessionAddress())
        let epoch = try await server.http("GET", "/api/history?channel=feed").json?["epoch"] as! String
        let posted = try await server.request(
            "POST", "/connection/\(address)/command",
            body: #"[{"id":1,"cmd":"subscribe","channel":"feed","since":{"epoch":"\#(epoch)","offset":0}}]"#)
        #expect(posted.status == 202)
        let reply = await sse.reply(1)
        #expect((reply?["result"] as? [String: Any])?["recovered"] as? Bool == true)
        try await server.publish("feed", "2")
        var offsets: [Int] = []
        var idLines: [String?] = []
        while offsets.count < 2, let event = await sse.next() {
            guard let push = object(event.data), push["push"] as? String == "publication" else { continue }
            offsets.append(push["offset"] as! Int)
            idLines.append(event.id)
        }
        #expect(offsets == [1, 2])
        // Positions of command subscriptions travel in the pushes; `id:` only carries the URL's channels.
        #expect(idLines.allSatisfy { $0 == nil })
    }

    @Test func publishingWithTheSameIdempotencyKeyTwicePublishesOnce() async throws {
        let server = try await TestServer.start()
        let subscriber = try await server.webSocket()
        _ = try await subscriber.command(#"{"id":1,"cmd":"subscribe","channel":"once"}"#, id: 1)
        let publisher = try await server.webSocket()
        let publish = #"{"id":2,"cmd":"publish","channel":"once","data":"hi","idempotencyKey":"msg-1"}"#
        let first = try await publisher.command(publish, id: 2)
        let retry = try await publisher.command(publish, id: 2)
        #expect((first?["result"] as? [String: Any])?["offset"] as? Int == 1)
        #expect((retry?["result"] as? [String: Any])?["offset"] as? Int == 1)
        try await server.publish("once", #""after""#)
        #expect(await subscriber.nextPush("publication")?["offset"] as? Int == 1)
        #expect(await subscriber.nextPush("publication")?["offset"] as? Int == 2)
    }

    @Test func theIdempotencyWindowCanBeTurnedOff() async throws {
        let server = try await TestServer.start { $0.channelDefaults.idempotencyWindow = .zero }
        let body = #"{"channel":"twice","data":1,"idempotencyKey":"k"}"#
        #expect(try await server.http("POST", "/api/publish", body: body).json?["offset"] as? Int == 1)
        #expect(try await server.http("POST", "/api/publish", body: body).json?["offset"] as? Int == 2)
    }

    @Test func refreshEndpointInstallsAFreshTokenOnAnSSESession() async throws {
        let clock = ManualTokenClock()
        let server = try await TestServer.start(clock: clock)
        let token = try await TestServer.token("carol", lifetime: .seconds(60), now: clock.date)
        let sse = try await server.sse(path: "/connection/sse", headers: [("authorization", "Bearer \(token)")])
        let address = try #require(await sse.sessionAddress())
        let fresh = try await TestServer.token("carol", lifetime: .seconds(900), now: clock.date)
        let refreshed = try await server.request("POST", "/connection/refresh", body: #"{"session":"\#(address)","token":"\#(fresh)"}"#)
        #expect(refreshed.status == 200)
        #expect(refreshed.json?["expires"] as? Int == Int(clock.now + 900))
        let someoneElse = try await TestServer.token("mallory", now: clock.date)
        let refused = try await server.request("POST", "/connection/refresh", body: #"{"session":"\#(address)","token":"\#(someoneElse)"}"#)
        #expect(refused.status == 401)
        #expect(errorCode(refused.json) == 123)
        let garbage = try await server.request("POST", "/connection/refresh", body: #"{"session":"\#(address)","token":"x.y.z"}"#)
        #expect(garbage.status == 401)
        for incomplete in [#"{"session":"\#(address)"}"#, #"{"token":"\#(fresh)"}"#, "[]", "not json"] {
            let refused = try await server.request("POST", "/connection/refresh", body: incomplete)
            #expect(refused.status == 400)
            #expect(errorCode(refused.json) == 107)
        }
        let unknown = try await server.request("POST", "/connection/refresh", body: #"{"session":"nope","token":"\#(fresh)"}"#)
        #expect(unknown.status == 404)
        #expect(errorCode(unknown.json) == 129)
    }
}

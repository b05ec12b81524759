import SwitchboardClient
import SwitchboardCore
import Testing

/// A server whose `room` namespace tracks presence.
private func presenceServer(_ adjust: @escaping (inout NamespaceOptions) -> Void = { _ in }) async throws -> TestServer {
    try await TestServer.start { configuration in
        var room = configuration.channelDefaults
        room.presence = true
        adjust(&room)
        configuration.namespaces["room"] = room
    }
}

private func result(_ reply: [String: Any]?) -> [String: Any]? { reply?["result"] as? [String: Any] }

private func members(_ presence: [String: Any]?) -> [String] {
    ((presence?["members"] as? [[String: Any]]) ?? []).compactMap { $0["client"] as? String }
}

extension WebSocketClient {
    /// Connects (optionally with a token and presence info) and returns the client id.
    func connectedClientID(token: String? = nil, info: String? = nil) async throws -> String {
        var command = #"{"id":90,"cmd":"connect""#
        if let token { command += #","token":"\#(token)""# }
        if let info { command += #","info":\#(info)"# }
        return (try await self.command(command + "}", id: 90)?["result"] as? [String: Any])?["client"] as! String
    }
}

@Suite(.timeLimit(.minutes(1))) struct PresenceTests {
    @Test func subscribingToAPresenceChannelAnswersASnapshotThatIncludesTheSubscriber() async throws {
        let server = try await presenceServer()
        let alice = try await server.webSocket()
        let client = try await alice.connectedClientID(token: try await TestServer.token("alice"), info: #"{"name":"Alice"}"#)
        let reply = try await alice.command(#"{"id":1,"cmd":"subscribe","channel":"room:1"}"#, id: 1)
        let presence = result(reply)?["presence"] as? [String: Any]
        #expect(presence?["clients"] as? Int == 1)
        #expect(presence?["users"] as? Int == 1)
        let member = (presence?["members"] as? [[String: Any]])?.first
        #expect(member?["client"] as? String == client)
        #expect(member?["user"] as? String == "alice")
        #expect((member?["info"] as? [String: Any])?["name"] as? String == "Alice")
    }

    @Test func aChannelWithoutPresenceAnswersNoSnapshot() async throws {
        let server = try await presenceServer()
        let ws = try await server.webSocket()
        #expect(result(try await ws.command(#"{"id":1,"cmd":"subscribe","channel":"plain"}"#, id: 1))?["presence"] == nil)
    }

    @Test func othersSeeAJoinAndALeaveWhenAConnectionDropsAbruptly() async throws {
        let server = try await presenceServer()
        let watcher = try await server.webSocket()
        _ = try await watcher.command(#"{"id":1,"cmd":"subscribe","channel":"room:2"}"#, id: 1)
        let visitor = try await server.webSocket()
        let visitorID = try await visitor.connectedClientID(token: try await TestServer.token("bob"))
        _ = try await visitor.command(#"{"id":1,"cmd":"subscribe","channel":"room:2"}"#, id: 1)
        // The watcher's own join comes first (it follows its subscribe reply); then the visitor's.
        let ownJoin = await watcher.nextPush("join")
        #expect(ownJoin?["client"] as? String != visitorID)
        let join = await watcher.nextPush("join")
        #expect(join?["client"] as? String == visitorID)
        #expect(join?["user"] as? String == "bob")
        #expect(join?["channel"] as? String == "room:2")
        await visitor.connection.close()  // no close handshake
        let leave = await watcher.nextPush("leave")
        #expect(leave?["client"] as? String == visitorID)
        let after = try await watcher.command(#"{"id":2,"cmd":"presence","channel":"room:2"}"#, id: 2)
        #expect(result(after)?["clients"] as? Int == 1)
    }

    @Test func countsTellConnectionsFromDistinctUsers() async throws {
        let server = try await presenceServer()
        let token = try await TestServer.token("carol")
        var sockets: [WebSocketClient] = []
        for _ in 0..<2 {
            let ws = try await server.webSocket()
            _ = try await ws.connectedClientID(token: token)
            _ = try await ws.command(#"{"id":1,"cmd":"subscribe","channel":"room:3"}"#, id: 1)
            sockets.append(ws)
        }
        let anonymous = try await server.webSocket()
        let reply = try await anonymous.command(#"{"id":1,"cmd":"subscribe","channel":"room:3"}"#, id: 1)
        let presence = result(reply)?["presence"] as? [String: Any]
        #expect(presence?["clients"] as? Int == 3)
        #expect(presence?["users"] as? Int == 1)
    }

    @Test func thePresenceCommandPagesThroughMembersInClientIDOrder() async throws {
        let server = try await presenceServer()
        var ids: [String] = []
        var sockets: [WebSocketClient] = []
        for _ in 0..<3 {
            let ws = try await server.webSocket()
            ids.append(try await ws.connectedClientID())
            _ = try await ws.command(#"{"id":1,"cmd":"subscribe","channel":"room:4"}"#, id: 1)
            sockets.append(ws)
        }
        var seen: [String] = []
        var cursor: String?
        repeat {
            let after = cursor.map { #","cursor":"\#($0)""# } ?? ""
            let page = result(try await sockets[0].command(#"{"id":5,"cmd":"presence","channel":"room:4","limit":2\#(after)}"#, id: 5))
            #expect((page?["members"] as? [Any])?.count ?? 0 <= 2)
            seen += members(page)
            cursor = page?["next"] as? String
        } while cursor != nil
        #expect(seen == ids.sorted())
    }

    @Test func joinAndLeavePushesCanBeTurnedOffWhileSnapshotsRemain() async throws {
        let server = try await presenceServer { $0.joinLeave = false }
        let watcher = try await server.webSocket()
        _ = try await watcher.command(#"{"id":1,"cmd":"subscribe","channel":"room:5"}"#, id: 1)
        let visitor = try await server.webSocket()
        let reply = try await visitor.command(#"{"id":1,"cmd":"subscribe","channel":"room:5"}"#, id: 1)
        #expect((result(reply)?["presence"] as? [String: Any])?["clients"] as? Int == 2)
        try await server.publish("room:5", #""marker""#)
        // The first push the watcher sees is the publication: no join came before it.
        let first = object(await watcher.receiveText())
        #expect(first?["push"] as? String == "publication")
    }

    @Test func presenceOfANamespaceWithoutItIsRefusedWith130() async throws {
        let server = try await presenceServer()
        let ws = try await server.webSocket()
        #expect(errorCode(try await ws.command(#"{"id":1,"cmd":"presence","channel":"plain"}"#, id: 1)) == 130)
        let api = try await server.http("GET", "/api/presence?channel=plain")
        #expect(api.status == 400)
        #expect(errorCode(api.json) == 130)
    }

    @Test func aTokenWithoutThePresenceCapabilitySeesNoPresence() async throws {
        let server = try await presenceServer()
        let token = try await TestServer.token("dave", capabilities: Capabilities(subscribe: [ChannelPattern("room:*")]))
        let ws = try await server.webSocket()
        _ = try await ws.connectedClientID(token: token)
        let reply = try await ws.command(#"{"id":1,"cmd":"subscribe","channel":"room:6"}"#, id: 1)
        #expect(result(reply) != nil)
        #expect(result(reply)?["presence"] == nil)
        #expect(errorCode(try await ws.command(#"{"id":2,"cmd":"presence","channel":"room:6"}"#, id: 2)) == 131)
        // Not seeing presence does not hide you from it.
        let api = try await server.http("GET", "/api/presence?channel=room:6")
        #expect(api.json?["clients"] as? Int == 1)
    }

    @Test func theHTTPAPIListsPresence() async throws {
        let server = try await presenceServer()
        let ws = try await server.webSocket()
        let id = try await ws.connectedClientID(token: try await TestServer.token("erin"))
        _ = try await ws.command(#"{"id":1,"cmd":"subscribe","channel":"room:7"}"#, id: 1)
        let api = try await server.http("GET", "/api/presence?channel=room:7")
        #expect(api.status == 200)
        #expect(api.json?["channel"] as? String == "room:7")
        #expect(members(api.json) == [id])
        #expect(try await server.http("GET", "/api/presence?channel=room:7", apiKey: "wrong").status == 401)
        for query in ["channel=room:7&limit=0", "channel=room:7&limit=1001", "channel=room:7&limit=x", ""] {
            let refused = try await server.http("GET", "/api/presence?\(query)")
            #expect(refused.status == 400)
            #expect(errorCode(refused.json) == 107)
        }
    }

    @Test func longPollAndSSESessionsJoinPresenceAndSeeJoins() async throws {
        let server = try await presenceServer()
        var poller = try await PollClient.open(server)
        try await poller.post(#"{"id":1,"cmd":"subscribe","channel":"room:8"}"#)
        let subscribed = try await poller.poll { $0["id"] as? Int == 1 }
        #expect(((subscribed.last?["result"] as? [String: Any])?["presence"] as? [String: Any])?["clients"] as? Int == 1)
        let sse = try await server.sse(path: "/connection/sse")
        let address = try #require(await sse.sessionAddress())
        #expect(
            try await server.request("POST", "/connection/\(address)/command", body: #"{"id":1,"cmd":"subscribe","channel":"room:8"}"#).status == 202)
        _ = await sse.reply(1)
        let join = try await poller.poll { $0["push"] as? String == "join" }
        #expect(join.last?["channel"] as? String == "room:8")
        await sse.close()
        let leave = try await poller.poll { $0["push"] as? String == "leave" }
        #expect(leave.last?["client"] as? String == join.last?["client"] as? String)
    }
}

@Suite(.timeLimit(.minutes(1))) struct SignalTests {
    @Test func aSignalReachesOtherSubscribersWithTheServerSetIdentity() async throws {
        let server = try await TestServer.start()
        let reader = try await server.webSocket()
        _ = try await reader.command(#"{"id":1,"cmd":"subscribe","channel":"chat:s"}"#, id: 1)
        let writer = try await server.webSocket()
        let writerID = try await writer.connectedClientID(token: try await TestServer.token("frank"))
        _ = try await writer.command(#"{"id":1,"cmd":"subscribe","channel":"chat:s"}"#, id: 1)
        // A client cannot claim to be someone else: `user` and `client` in the command are ignored.
        let reply = try await writer.command(
            #"{"id":2,"cmd":"signal","channel":"chat:s","type":"typing","data":{"on":true},"user":"mallory","client":"x"}"#, id: 2)
        #expect(result(reply) != nil)
        let signal = await reader.nextPush("signal")
        #expect(signal?["type"] as? String == "typing")
        #expect(signal?["user"] as? String == "frank")
        #expect(signal?["client"] as? String == writerID)
        #expect((signal?["data"] as? [String: Any])?["on"] as? Bool == true)
    }

    @Test func signalsAreNeverKeptInHistory() async throws {
        let server = try await TestServer.start()
        let ws = try await server.webSocket()
        _ = try await ws.command(#"{"id":1,"cmd":"subscribe","channel":"chat:h"}"#, id: 1)
        _ = try await ws.command(#"{"id":2,"cmd":"signal","channel":"chat:h","type":"typing"}"#, id: 2)
        let history = try await server.http("GET", "/api/history?channel=chat:h")
        #expect(history.json?["offset"] as? Int == 0)
        #expect((history.json?["publications"] as? [Any])?.isEmpty == true)
    }

    @Test func signalsWithinTheIntervalAreCoalescedIntoTheLatest() async throws {
        let server = try await TestServer.start { $0.channelDefaults.signalInterval = .seconds(2) }
        let reader = try await server.webSocket()
        _ = try await reader.command(#"{"id":1,"cmd":"subscribe","channel":"chat:c"}"#, id: 1)
        let writer = try await server.webSocket()
        _ = try await writer.command(#"{"id":1,"cmd":"subscribe","channel":"chat:c"}"#, id: 1)
        var coalesced: [Bool] = []
        for n in 1...3 {
            let reply = try await writer.command(#"{"id":\#(n + 1),"cmd":"signal","channel":"chat:c","type":"cursor","data":\#(n)}"#, id: n + 1)
            coalesced.append(result(reply)?["coalesced"] as? Bool ?? false)
        }
        #expect(coalesced == [false, true, true])
        #expect(await reader.nextPush("signal")?["data"] as? Int == 1)
        // The second was replaced by the third, which goes out when the interval ends.
        #expect(await reader.nextPush("signal")?["data"] as? Int == 3)
        #expect(try await server.metric("switchboard_signals_coalesced_total") == 2)
    }

    @Test func signallingNeedsASubscriptionAndANamespaceThatAllowsIt() async throws {
        let server = try await TestServer.start { configuration in
            var quiet = configuration.channelDefaults
            quiet.allowSignals = false
            configuration.namespaces["quiet"] = quiet
        }
        let ws = try await server.webSocket()
        #expect(errorCode(try await ws.command(#"{"id":1,"cmd":"signal","channel":"chat:x","type":"typing"}"#, id: 1)) == 109)
        _ = try await ws.command(#"{"id":2,"cmd":"subscribe","channel":"quiet:x"}"#, id: 2)
        #expect(errorCode(try await ws.command(#"{"id":3,"cmd":"signal","channel":"quiet:x","type":"typing"}"#, id: 3)) == 132)
        #expect(errorCode(try await ws.command(#"{"id":4,"cmd":"signal","channel":"quiet:x","type":"no spaces"}"#, id: 4)) == 107)
    }

    @Test func sseAndLongPollSubscribersReceiveSignals() async throws {
        let server = try await TestServer.start()
        let sse = try await server.sse(path: "/connection/sse?channel=chat:t")
        _ = await sse.nextPush("subscribed")
        var poller = try await PollClient.open(server)
        try await poller.post(#"{"id":1,"cmd":"subscribe","channel":"chat:t"}"#)
        _ = try await poller.poll { $0["id"] as? Int == 1 }
        let writer = try await server.webSocket()
        _ = try await writer.command(#"{"id":1,"cmd":"subscribe","channel":"chat:t"}"#, id: 1)
        _ = try await writer.command(#"{"id":2,"cmd":"signal","channel":"chat:t","type":"typing"}"#, id: 2)
        #expect(await sse.nextPush("signal")?["type"] as? String == "typing")
        #expect(try await poller.poll { $0["push"] as? String == "signal" }.last?["type"] as? String == "typing")
    }
}

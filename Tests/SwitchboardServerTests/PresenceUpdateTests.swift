import SwitchboardClient
import SwitchboardCore
import Testing

/// A connection's own presence info per channel: given on `subscribe`, changed with `presence_update` (protocol.md §4.7).
@Suite(.timeLimit(.minutes(1))) struct PresenceUpdateTests {
    private func server() async throws -> TestServer {
        try await TestServer.start { configuration in
            var room = configuration.channelDefaults
            room.presence = true
            configuration.namespaces["room"] = room
        }
    }

    private func member(_ reply: [String: Any]?, _ client: String) -> [String: Any]? {
        let presence = (reply?["result"] as? [String: Any])?["presence"] as? [String: Any]
        return (presence?["members"] as? [[String: Any]])?.first { $0["client"] as? String == client }
    }

    @Test func infoGivenOnSubscribeIsThisChannelsInfoInsteadOfTheConnections() async throws {
        let server = try await server()
        let alice = try await server.webSocket()
        let client = try await alice.connectedClientID(token: try await TestServer.token("alice"), info: #"{"name":"Alice"}"#)
        let reply = try await alice.command(#"{"id":1,"cmd":"subscribe","channel":"room:1","info":{"status":"away"}}"#, id: 1)
        #expect((member(reply, client)?["info"] as? [String: Any])?["status"] as? String == "away")
        let other = try await alice.command(#"{"id":2,"cmd":"subscribe","channel":"room:2"}"#, id: 2)
        #expect((member(other, client)?["info"] as? [String: Any])?["name"] as? String == "Alice")
    }

    @Test func anUpdateReachesTheOthersAndTheNextSnapshot() async throws {
        let server = try await server()
        let watcher = try await server.webSocket()
        _ = try await watcher.command(#"{"id":1,"cmd":"subscribe","channel":"room:3"}"#, id: 1)
        let bob = try await server.webSocket()
        let bobID = try await bob.connectedClientID(token: try await TestServer.token("bob"))
        _ = try await bob.command(#"{"id":1,"cmd":"subscribe","channel":"room:3"}"#, id: 1)
        let reply = try await bob.command(#"{"id":2,"cmd":"presence_update","channel":"room:3","info":{"typing" : true}}"#, id: 2)
        #expect(reply?["result"] != nil)
        let update = await watcher.nextPush("presence_update")
        #expect(update?["client"] as? String == bobID)
        #expect(update?["user"] as? String == "bob")
        #expect(update?["channel"] as? String == "room:3")
        #expect((update?["info"] as? [String: Any])?["typing"] as? Bool == true)
        let late = try await server.webSocket()
        let snapshot = try await late.command(#"{"id":1,"cmd":"subscribe","channel":"room:3"}"#, id: 1)
        #expect((member(snapshot, bobID)?["info"] as? [String: Any])?["typing"] as? Bool == true)
        // null clears it.
        _ = try await bob.command(#"{"id":3,"cmd":"presence_update","channel":"room:3","info":null}"#, id: 3)
        let cleared = await watcher.nextPush("presence_update")
        #expect(cleared?["client"] as? String == bobID && cleared?["info"] == nil)
    }

    @Test func updatesAreRefusedWithAClearReason() async throws {
        let server = try await server()
        let ws = try await server.webSocket()
        // Not subscribed.
        #expect(errorCode(try await ws.command(#"{"id":1,"cmd":"presence_update","channel":"room:4","info":{}}"#, id: 1)) == 109)
        // A namespace without presence.
        _ = try await ws.command(#"{"id":2,"cmd":"subscribe","channel":"plain"}"#, id: 2)
        #expect(errorCode(try await ws.command(#"{"id":3,"cmd":"presence_update","channel":"plain","info":{}}"#, id: 3)) == 130)
        _ = try await ws.command(#"{"id":4,"cmd":"subscribe","channel":"room:4"}"#, id: 4)
        // No info member, too large, not JSON-valued.
        #expect(errorCode(try await ws.command(#"{"id":5,"cmd":"presence_update","channel":"room:4"}"#, id: 5)) == 107)
        let large = String(repeating: "x", count: CommandDecoder.maxInfoBytes)
        #expect(errorCode(try await ws.command(#"{"id":6,"cmd":"presence_update","channel":"room:4","info":"\#(large)"}"#, id: 6)) == 107)
        #expect(errorCode(try await ws.command(#"{"id":7,"cmd":"subscribe","channel":"room:5","info":"\#(large)"}"#, id: 7)) == 107)
        // After unsubscribing, the member is gone: nothing to update.
        _ = try await ws.command(#"{"id":8,"cmd":"unsubscribe","channel":"room:4"}"#, id: 8)
        #expect(errorCode(try await ws.command(#"{"id":9,"cmd":"presence_update","channel":"room:4","info":{}}"#, id: 9)) == 109)
        // The connection still works.
        #expect(try await ws.command(#"{"id":10,"cmd":"ping"}"#, id: 10)?["result"] != nil)
    }

    @Test func aSubscriptionWithJoinFalseWatchesPresenceWithoutJoiningIt() async throws {
        let server = try await server()
        let member = try await server.webSocket()
        let memberID = try await member.connectedClientID()
        _ = try await member.command(#"{"id":1,"cmd":"subscribe","channel":"room:6"}"#, id: 1)
        let watcher = try await server.webSocket()
        _ = try await watcher.connectedClientID()
        let reply = try await watcher.command(#"{"id":1,"cmd":"subscribe","channel":"room:6","join":false}"#, id: 1)
        let snapshot = (reply?["result"] as? [String: Any])?["presence"] as? [String: Any]
        #expect(snapshot?["clients"] as? Int == 1)
        #expect(((snapshot?["members"] as? [[String: Any]]) ?? []).map { $0["client"] as? String } == [memberID])
        // The watcher sees others come and go, and nobody sees the watcher.
        let visitor = try await server.webSocket()
        let visitorID = try await visitor.connectedClientID()
        _ = try await visitor.command(#"{"id":1,"cmd":"subscribe","channel":"room:6"}"#, id: 1)
        #expect(await watcher.nextPush("join")?["client"] as? String == visitorID)
        let page = try await visitor.command(#"{"id":2,"cmd":"presence","channel":"room:6"}"#, id: 2)
        #expect((page?["result"] as? [String: Any])?["clients"] as? Int == 2)
        // Not a member: nothing to update.
        #expect(errorCode(try await watcher.command(#"{"id":2,"cmd":"presence_update","channel":"room:6","info":{}}"#, id: 2)) == 109)
        #expect(errorCode(try await watcher.command(#"{"id":3,"cmd":"subscribe","channel":"room:7","join":"no"}"#, id: 3)) == 107)
    }

    @Test func theSubscribeReplyAdvertisesTheSignalInterval() async throws {
        let server = try await TestServer.start { configuration in
            var typing = configuration.channelDefaults
            typing.signalInterval = .milliseconds(250)
            configuration.namespaces["typing"] = typing
            var quiet = configuration.channelDefaults
            quiet.allowSignals = false
            configuration.namespaces["quiet"] = quiet
        }
        let ws = try await server.webSocket()
        let reply = try await ws.command(#"{"id":1,"cmd":"subscribe","channel":"typing:a"}"#, id: 1)
        #expect((reply?["result"] as? [String: Any])?["signal_interval_ms"] as? Int == 250)
        let quiet = try await ws.command(#"{"id":2,"cmd":"subscribe","channel":"quiet:a"}"#, id: 2)
        #expect((quiet?["result"] as? [String: Any])?["signal_interval_ms"] == nil)
    }
}

import Foundation
import NIOCore
import SwitchboardBroker
import SwitchboardClient
import SwitchboardCore
import Testing

/// An engine that hangs, fails or is slow: every engine call has a deadline, every failure reaches the client with
/// its code (never a 200), no session wedges, and presence never keeps a ghost.
@Suite(.timeLimit(.minutes(1))) struct EngineFailureTests {
    private func server(_ broker: FaultyBroker, timeoutMilliseconds: Int = 300) async throws -> TestServer {
        try await TestServer.start(broker: broker) { configuration in
            configuration.engineCallTimeout = .milliseconds(timeoutMilliseconds)
            var room = configuration.channelDefaults
            room.presence = true
            configuration.namespaces["room"] = room
        }
    }

    @Test func aHungPublishIsAnsweredWithARetryableTimeoutAndTheSessionMovesOn() async throws {
        let broker = FaultyBroker()
        broker.set("publish", .hang)
        let server = try await server(broker)
        let client = try await server.webSocket()
        try await client.send(text: #"{"id":1,"cmd":"publish","channel":"news","data":1}"#)
        try await client.send(text: #"{"id":2,"cmd":"ping"}"#)
        // Another session is not held up by the first one's stuck call.
        let other = try await server.webSocket()
        #expect(try await other.command(#"{"id":7,"cmd":"ping"}"#, id: 7)?["result"] != nil)
        let timedOut = try await client.command(#"{"id":3,"cmd":"ping"}"#, id: 1)
        #expect(errorCode(timedOut) == 137)
        #expect(try await client.command(#"{"id":4,"cmd":"ping"}"#, id: 2)?["result"] != nil)
        let refused = try await server.http("POST", "/api/publish", body: #"{"channel":"news","data":1}"#)
        #expect(refused.status == 504)
        #expect(refused.head.header("retry-after") == "1")
        #expect(errorCode(refused.json) == 137)
        broker.releaseHangs()
        try await server.stop()
    }

    @Test func anUnavailableEngineIsAnsweredWithItsCodeOnEveryPath() async throws {
        let broker = FaultyBroker()
        broker.set("recover", .fail(.unavailable))
        broker.set("publish", .fail(.unavailable))
        broker.set("history", .fail(.unavailable))
        let server = try await server(broker)
        let client = try await server.webSocket()
        #expect(errorCode(try await client.command(#"{"id":1,"cmd":"subscribe","channel":"news"}"#, id: 1)) == 136)
        #expect(errorCode(try await client.command(#"{"id":2,"cmd":"publish","channel":"news","data":1}"#, id: 2)) == 136)
        let publish = try await server.http("POST", "/api/publish", body: #"{"channel":"news","data":1}"#)
        #expect(publish.status == 503)
        #expect(errorCode(publish.json) == 136)
        let history = try await server.http("GET", "/api/history?channel=news")
        #expect(history.status == 503)
        #expect(errorCode(history.json) == 136)
        // Once the engine is back the same session subscribes.
        broker.set("recover", .normal)
        #expect(try await client.command(#"{"id":3,"cmd":"subscribe","channel":"news"}"#, id: 3)?["result"] != nil)
        try await server.stop()
    }

    @Test func aRejectedPublishIsNotRetryableAndNeverAnswered200() async throws {
        let broker = FaultyBroker()
        broker.set("publish", .fail(.rejected))
        let server = try await server(broker)
        let refused = try await server.http("POST", "/api/publish", body: #"{"channel":"news","data":1}"#)
        #expect(refused.status == 400)
        #expect(errorCode(refused.json) == 138)
        #expect(refused.head.header("retry-after") == nil)
        try await server.stop()
    }

    @Test func failuresOfPresenceReceiptsAndSignalsReachTheClient() async throws {
        let broker = FaultyBroker()
        broker.set("presence", .fail(.unavailable))
        broker.set("signal", .fail(.internal))
        let server = try await server(broker)
        let client = try await server.webSocket()
        broker.set("presence", .normal)
        #expect(try await client.command(#"{"id":1,"cmd":"subscribe","channel":"room:1"}"#, id: 1)?["result"] != nil)
        broker.set("presence", .fail(.unavailable))
        #expect(errorCode(try await client.command(#"{"id":2,"cmd":"presence","channel":"room:1"}"#, id: 2)) == 136)
        #expect(errorCode(try await client.command(#"{"id":3,"cmd":"signal","channel":"room:1","type":"typing"}"#, id: 3)) == 100)
        try await server.stop()
    }

    /// The join is slow (held by the test) and the client leaves at once: the leave must wait for the join, or the
    /// join would land last and leave a member that is gone.
    @Test func aSlowJoinIsNeverOvertakenByItsLeave() async throws {
        let broker = FaultyBroker()
        broker.set("presence_join", .gated)
        let server = try await server(broker, timeoutMilliseconds: 5000)
        var events = broker.events.makeAsyncIterator()
        let client = try await server.webSocket()
        try await client.send(text: #"{"id":1,"cmd":"subscribe","channel":"room:ghost"}"#)
        while let event = await events.next(), event != "start presence_join" {}
        await client.connection.close()
        try await server.waitForMetric(#"switchboard_connections{transport="websocket"}"#, toBe: 0)
        broker.open("presence_join")
        while let event = await events.next(), event != "end presence_leave" {}
        let presence = try await server.http("GET", "/api/presence?channel=room:ghost")
        #expect(presence.status == 200)
        #expect((presence.json?["members"] as? [Any])?.isEmpty == true)
        try await server.stop()
    }
}

/// `/readyz` follows the engine: a load balancer stops sending traffic to a node whose engine cannot accept
/// publications (the SQLite engine's full disk: `SQLiteEngineTests`).
@Suite(.timeLimit(.minutes(1))) struct EngineReadinessTests {
    @Test func readyzAnswers503WhileTheEngineIsUnavailableAnd200Again() async throws {
        let broker = FaultyBroker()
        let server = try await TestServer.start(broker: broker)
        #expect(try await server.http("GET", "/readyz").status == 200)
        broker.available.withLockedValue { $0 = false }
        let down = try await server.http("GET", "/readyz")
        #expect(down.status == 503)
        #expect(down.bodyText == #"{"status":"engine_unavailable"}"#)
        broker.available.withLockedValue { $0 = true }
        #expect(try await server.http("GET", "/readyz").status == 200)
        try await server.stop()
    }
}

/// Live delivery checked for gaps and epoch changes: what a shared engine can do (lose a notification, restart a
/// channel's stream) never reaches a client as a silent hole or a mix of two streams.
@Suite(.timeLimit(.minutes(1))) struct DeliveryGapTests {
    @Test func aPublicationWhoseDeliveryWasLostIsReadFromHistoryBeforeTheNextOne() async throws {
        let broker = FaultyBroker()
        broker.withholds.withLockedValue { $0 = { $0.offset == 3 || $0.offset == 4 } }
        let server = try await TestServer.start(broker: broker)
        let client = try await server.webSocket()
        #expect(try await client.command(#"{"id":1,"cmd":"subscribe","channel":"news"}"#, id: 1)?["result"] != nil)
        for n in 1...6 {
            #expect(try await server.http("POST", "/api/publish", body: #"{"channel":"news","data":\#(n)}"#).status == 200)
        }
        for n in 1...6 {
            let push = await client.nextPush("publication")
            #expect(push?["offset"] as? Int == n)
            #expect(push?["data"] as? Int == n)
        }
        let metrics = try await server.http("GET", "/metrics")
        #expect(metrics.bodyText.contains("switchboard_delivery_gaps_total 1"))
        try await server.stop()
    }

    @Test func aPublicationOfANewEpochIsAnnouncedAsAResetThenDelivered() async throws {
        let broker = FaultyBroker()
        let server = try await TestServer.start(broker: broker)
        let client = try await server.webSocket()
        #expect(try await client.command(#"{"id":1,"cmd":"subscribe","channel":"news"}"#, id: 1)?["result"] != nil)
        #expect(try await server.http("POST", "/api/publish", body: #"{"channel":"news","data":1}"#).status == 200)
        #expect(await client.nextPush("publication")?["offset"] as? Int == 1)
        let news = try ChannelName(validating: "news")
        broker.deliverToHub(Publication(channel: news, epoch: "restarted", offset: 1, data: ByteBuffer(string: "2")))
        let reset = await client.nextPush("reset")
        #expect(reset?["channel"] as? String == "news")
        #expect(reset?["epoch"] as? String == "restarted")
        #expect(reset?["offset"] as? Int == 0)
        #expect(reset?["recovered"] as? Bool == false)
        #expect(reset?["reason"] as? String == "epoch changed: history was lost")
        let next = await client.nextPush("publication")
        #expect(next?["epoch"] as? String == "restarted")
        #expect(next?["offset"] as? Int == 1)
        try await server.stop()
    }
}

import Foundation
import NIOCore
import SwitchboardClient
import Testing

/// A long-poll client as the browser client drives it: open, post commands, poll with the last processed `seq`.
struct PollClient {
    let server: TestServer
    let session: String
    var ack = 0

    static func open(_ server: TestServer, headers: [(String, String)] = []) async throws -> PollClient {
        let response = try await server.request("POST", "/connection/poll", headers: headers)
        guard response.status == 200, let session = response.json?["session"] as? String else {
            throw HTTPRefusal(status: response.status, body: response.bodyText)
        }
        return PollClient(server: server, session: session)
    }

    @discardableResult
    func post(_ commands: String) async throws -> HTTPClient.Response {
        try await server.request("POST", "/connection/\(session)/command", body: commands)
    }

    /// One poll; remembers its `seq` as the next `ack` unless told to forget it (a response lost in transit).
    mutating func poll(timeoutMilliseconds: Int = 2000, confirm: Bool = true) async throws -> [[String: Any]] {
        let response = try await server.request("GET", "/connection/poll/\(session)?ack=\(ack)&timeout=\(timeoutMilliseconds)")
        guard response.status == 200, let json = response.json else { throw HTTPRefusal(status: response.status, body: response.bodyText) }
        if confirm { ack = json["seq"] as! Int }
        return json["messages"] as! [[String: Any]]
    }

    /// Polls until a message satisfies `match`; returns every message read on the way, that one last.
    mutating func poll(until match: ([String: Any]) -> Bool) async throws -> [[String: Any]] {
        var seen: [[String: Any]] = []
        while true {
            for message in try await poll() {
                seen.append(message)
                if match(message) { return seen }
            }
        }
    }
}

extension TestServer {
    func request(_ method: String, _ path: String, body: String? = nil, headers: [(String, String)] = []) async throws -> HTTPClient.Response {
        try await HTTPClient.request(
            method, host: "127.0.0.1", port: port, path: path, headers: [("content-type", "application/json")] + headers,
            body: body.map { ByteBuffer(string: $0) })
    }
}

private func publicationOffsets(_ messages: [[String: Any]]) -> [Int] {
    messages.filter { $0["push"] as? String == "publication" }.map { $0["offset"] as! Int }
}

@Suite(.timeLimit(.minutes(1))) struct LongPollTests {
    @Test func openingASessionAnswersItsAddressAndSequenceZero() async throws {
        let server = try await TestServer.start()
        let response = try await server.request("POST", "/connection/poll")
        #expect(response.status == 200)
        #expect((response.json?["session"] as? String)?.count == 32)
        #expect(response.json?["seq"] as? Int == 0)
    }

    @Test func repliesAndPublicationsArriveInOrderThroughPolls() async throws {
        let server = try await TestServer.start()
        var client = try await PollClient.open(server)
        let accepted = try await client.post(#"[{"id":1,"cmd":"connect"},{"id":2,"cmd":"subscribe","channel":"news"}]"#)
        #expect(accepted.status == 202)
        #expect(accepted.json?["accepted"] as? Int == 2)
        let replies = try await client.poll { $0["id"] as? Int == 2 }
        #expect(replies.compactMap { $0["id"] as? Int } == [1, 2])
        for value in 1...3 { try await server.publish("news", "\(value)") }
        var offsets: [Int] = []
        while offsets.count < 3 { offsets += publicationOffsets(try await client.poll()) }
        #expect(offsets == [1, 2, 3])
    }

    @Test func aPollParksUntilAPublicationArrives() async throws {
        let server = try await TestServer.start()
        var client = try await PollClient.open(server)
        try await client.post(#"{"id":1,"cmd":"subscribe","channel":"wait"}"#)
        _ = try await client.poll { $0["id"] as? Int == 1 }
        let waiting = Task { [client] in
            var poller = client
            return publicationOffsets(try await poller.poll(timeoutMilliseconds: 20_000))
        }
        try await server.publish("wait", #""now""#)
        #expect(try await waiting.value == [1])
    }

    @Test func aPollWithNothingToSayAnswersEmptyAfterItsTimeout() async throws {
        let server = try await TestServer.start()
        var client = try await PollClient.open(server)
        let messages = try await client.poll(timeoutMilliseconds: 30)
        #expect(messages.isEmpty)
        #expect(client.ack == 0)
    }

    @Test func unconfirmedMessagesAreSentAgainSoALostResponseLosesNothing() async throws {
        let server = try await TestServer.start()
        var client = try await PollClient.open(server)
        try await client.post(#"{"id":1,"cmd":"subscribe","channel":"lossy"}"#)
        _ = try await client.poll { $0["id"] as? Int == 1 }
        for value in 1...5 { try await server.publish("lossy", "\(value)") }
        var lost: [Int] = []
        while lost.count < 5 { lost += publicationOffsets(try await client.poll(confirm: false)) }
        #expect(lost == [1, 2, 3, 4, 5])
        let again = publicationOffsets(try await client.poll())
        #expect(again == [1, 2, 3, 4, 5])
        #expect(try await client.poll(timeoutMilliseconds: 30).isEmpty)
    }

    @Test func manyPublicationsArriveGaplessAndInOrderAcrossPolls() async throws {
        let server = try await TestServer.start { $0.channelDefaults.historySize = 1000 }
        var client = try await PollClient.open(server)
        try await client.post(#"{"id":1,"cmd":"subscribe","channel":"burst"}"#)
        _ = try await client.poll { $0["id"] as? Int == 1 }
        let publisher = Task { for value in 1...300 { try await server.publish("burst", "\(value)") } }
        var offsets: [Int] = []
        while offsets.count < 300 { offsets += publicationOffsets(try await client.poll()) }
        try await publisher.value
        #expect(offsets == Array(1...300))
    }

    @Test func anUnknownSessionIsNotFoundWithCode129() async throws {
        let server = try await TestServer.start()
        for (method, path) in [("GET", "/connection/poll/nope"), ("POST", "/connection/nope/command"), ("DELETE", "/connection/poll/nope")] {
            let response = try await server.request(method, path, body: method == "POST" ? #"{"id":1,"cmd":"ping"}"# : nil)
            #expect(response.status == 404)
            #expect(errorCode(response.json) == 129)
        }
    }

    @Test func deletingASessionEndsIt() async throws {
        let server = try await TestServer.start()
        let client = try await PollClient.open(server)
        #expect(try await server.request("DELETE", "/connection/poll/\(client.session)").status == 204)
        #expect(try await server.request("GET", "/connection/poll/\(client.session)?timeout=10").status == 404)
        #expect(try await server.metric("switchboard_connections{transport=\"poll\"}") == 0)
    }

    @Test func aSessionNobodyPollsExpiresAfterTheIdleTime() async throws {
        let server = try await TestServer.start { $0.poll.sessionIdle = .milliseconds(50) }
        let client = try await PollClient.open(server)
        // Commands do not keep a session alive; only polls do.
        while try await client.post(#"{"id":1,"cmd":"ping"}"#).status == 202 {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await client.post(#"{"id":1,"cmd":"ping"}"#).status == 404)
    }

    @Test func aClientThatStopsConfirmingIsDisconnectedAsASlowConsumer() async throws {
        let server = try await TestServer.start { $0.limits.outboundQueueMessages = 5 }
        var client = try await PollClient.open(server)
        try await client.post(#"{"id":1,"cmd":"subscribe","channel":"flood"}"#)
        for value in 1...10 { try await server.publish("flood", "\(value)") }
        let messages = try await client.poll { $0["push"] as? String == "disconnect" }
        #expect(messages.last?["code"] as? Int == 4002)
        #expect(try await server.request("GET", "/connection/poll/\(client.session)?timeout=10").status == 404)
    }

    @Test func shutdownAnswersAParkedPollWithTheReconnectAdvice() async throws {
        let server = try await TestServer.start()
        var client = try await PollClient.open(server)
        try await client.post(#"{"id":1,"cmd":"ping"}"#)
        _ = try await client.poll { $0["id"] as? Int == 1 }
        let waiting = Task { [client] in
            var poller = client
            return try await poller.poll(until: { $0["push"] as? String == "disconnect" }).last?["code"] as? Int
        }
        // Shutdown must answer a parked poll: wait until the server holds it.
        while try await server.metric("switchboard_polls_waiting") != 1 { try await Task.sleep(for: .milliseconds(5)) }
        try await server.stop()
        #expect(try await waiting.value == 4001)
    }

    @Test func malformedPollAndCommandRequestsGetClearErrors() async throws {
        let server = try await TestServer.start { $0.limits.maxMessageBytes = 1024 }
        let client = try await PollClient.open(server)
        let badAck = try await server.request("GET", "/connection/poll/\(client.session)?ack=-1")
        #expect(badAck.status == 400)
        #expect(errorCode(badAck.json) == 107)
        for body in ["123", "{not json", #"[{"id":1,"cmd":"ping"},"#, #"{"id":1,"cmd":"ping"} trailing"#] {
            let notCommands = try await client.post(body)
            #expect(notCommands.status == 400, "body \(body)")
            #expect(errorCode(notCommands.json) == 111)
        }
        let tooLarge = try await client.post(#"{"id":1,"cmd":"publish","channel":"x","data":""# + String(repeating: "a", count: 2000) + #""}"#)
        #expect(tooLarge.status == 413)
        #expect(errorCode(tooLarge.json) == 110)
        // A command that is JSON but not valid is answered on the stream, like on a WebSocket.
        var poller = client
        try await poller.post(#"{"cmd":"subscribe"}"#)
        let answer = try await poller.poll { $0["push"] as? String == "error" }
        #expect(errorCode(answer.last) == 107)
    }

    @Test func aTokenSentWhenOpeningGivesTheSessionItsUser() async throws {
        let server = try await TestServer.start()
        let token = try await TestServer.token("alice")
        var client = try await PollClient.open(server, headers: [("authorization", "Bearer \(token)")])
        try await client.post(#"{"id":1,"cmd":"connect"}"#)
        let reply = try await client.poll { $0["id"] as? Int == 1 }
        #expect((reply.last?["result"] as? [String: Any])?["user"] as? String == "alice")
    }

    @Test func aBadTokenWhenOpeningIsRefusedWith401() async throws {
        let server = try await TestServer.start()
        let response = try await server.request("POST", "/connection/poll", headers: [("authorization", "Bearer not.a.token")])
        #expect(response.status == 401)
        #expect(errorCode(response.json) == 123)
        #expect(response.head.header("www-authenticate") == "Bearer")
    }

    @Test func aForeignOriginCannotOpenASession() async throws {
        let server = try await TestServer.start()
        let response = try await server.request("POST", "/connection/poll", headers: [("origin", "https://evil.example")])
        #expect(response.status == 403)
        #expect(errorCode(response.json) == 127)
    }

    @Test func anExpiredTokenGetsARefreshPushAndTheRefreshCommandKeepsTheSession() async throws {
        let clock = ManualTokenClock()
        let server = try await TestServer.start(clock: clock) { $0.heartbeat.interval = .milliseconds(20) }
        let token = try await TestServer.token("bob", lifetime: .seconds(60), now: clock.date)
        var client = try await PollClient.open(server, headers: [("authorization", "Bearer \(token)")])
        clock.advance(by: 120)
        _ = try await client.poll { $0["push"] as? String == "refresh" }
        let fresh = try await TestServer.token("bob", lifetime: .seconds(600), now: clock.date)
        try await client.post(#"{"id":7,"cmd":"refresh","token":"\#(fresh)"}"#)
        let reply = try await client.poll { $0["id"] as? Int == 7 }
        #expect((reply.last?["result"] as? [String: Any])?["expires"] as? Int == Int(clock.now + 600))
    }
}

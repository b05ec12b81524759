import Foundation
import NIOCore
import SwitchboardBroker
import SwitchboardClient
import SwitchboardCore
import SwitchboardServer
import Testing

/// `POST /api/disconnect` and `POST /api/revoke` on one node (docs/protocol.md, "Operators' orders"); across nodes
/// they travel through the engine (PostgresEngineTests, tests/engine/test_postgres_cluster.py).
@Suite(.timeLimit(.minutes(1))) struct ControlTests {
    /// Reads until the connection ends: the close frame's code and reason.
    private func close(of socket: WebSocketClient) async -> (UInt16?, String)? {
        var close: (UInt16?, String)?
        while let message = await socket.receive() {
            if case .close(let code, let reason) = message { close = (code, reason) }
        }
        return close
    }

    private func connected(_ server: TestServer, _ token: String) async throws -> WebSocketClient {
        let socket = try await server.webSocket(headers: [("authorization", "Bearer \(token)")])
        #expect(try await socket.command(#"{"id":1,"cmd":"ping"}"#, id: 1)?["result"] != nil)
        return socket
    }

    @Test func disconnectingAUserEndsEachOfItsSessionsOnEveryTransportAndNoOneElses() async throws {
        let server = try await TestServer.start()
        let alice = try await TestServer.token("alice")
        let first = try await connected(server, alice)
        let second = try await connected(server, alice)
        let stream = try await server.sse(path: "/connection/sse?channel=news&token=\(alice)")
        let bob = try await connected(server, try await TestServer.token("bob"))
        let answer = try await server.http("POST", "/api/disconnect", body: #"{"user":"alice"}"#)
        #expect(answer.status == 200)
        #expect(answer.json?["code"] as? Int == 4005)
        for socket in [first, second] {
            let closed = await close(of: socket)
            #expect(closed?.0 == 4005)
            #expect(closed?.1 == "disconnected by the server")
        }
        let push = await stream.nextPush("disconnect")
        #expect(push?["code"] as? Int == 4005)
        #expect(push?["reconnect"] as? Bool == true)
        #expect(try await bob.command(#"{"id":2,"cmd":"ping"}"#, id: 2)?["result"] != nil)
        try await server.stop()
    }

    @Test func disconnectingAClientWithoutReconnectEndsThatSessionWith4503() async throws {
        let server = try await TestServer.start()
        let token = try await TestServer.token("alice")
        let target = try await server.webSocket()
        let client = try #require(try await target.command(#"{"id":1,"cmd":"connect","token":"\#(token)"}"#, id: 1)?["result"] as? [String: Any])
        let id = try #require(client["client"] as? String)
        let sameUser = try await connected(server, token)
        let answer = try await server.http("POST", "/api/disconnect", body: #"{"client":"\#(id)","reconnect":false}"#)
        #expect(answer.status == 200)
        let closed = await close(of: target)
        #expect(closed?.0 == 4503)
        #expect(closed?.1 == "disconnected by the server; do not reconnect")
        #expect(try await sameUser.command(#"{"id":2,"cmd":"ping"}"#, id: 2)?["result"] != nil)
        try await server.stop()
    }

    @Test func aRevokedTokenIdEndsItsSessionsAndIsRefusedAfterwards() async throws {
        let server = try await TestServer.start()
        let minter = TokenMinter(hmacSecret: TestServer.hmacSecret)
        let revoked = try await minter.mint(subject: "alice", lifetime: .seconds(3600), tokenID: "t-1")
        let other = try await minter.mint(subject: "alice", lifetime: .seconds(3600), tokenID: "t-2")
        let holder = try await connected(server, revoked)
        let unaffected = try await connected(server, other)
        let answer = try await server.http("POST", "/api/revoke", body: #"{"token_id":"t-1"}"#)
        #expect(answer.status == 200)
        let until = try #require(answer.json?["expires_at"] as? Int)
        #expect(abs(until - Int(Date().timeIntervalSince1970) - 86_400) < 60)
        let closed = await close(of: holder)
        #expect(closed?.0 == 4501)
        #expect(closed?.1 == "token revoked")
        #expect(try await unaffected.command(#"{"id":2,"cmd":"ping"}"#, id: 2)?["result"] != nil)
        // Refused with the upgrade (401), in `connect` (error then 4501), as a subscription token: on every path.
        let refusal = await #expect(throws: HTTPRefusal.self) { try await server.webSocket(headers: [("authorization", "Bearer \(revoked)")]) }
        #expect(refusal?.status == 401)
        #expect(object(refusal?.body)?["error"].flatMap { ($0 as? [String: Any])?["reason"] as? String } == "token was revoked")
        let late = try await server.webSocket()
        #expect(errorCode(try await late.command(#"{"id":1,"cmd":"connect","token":"\#(revoked)"}"#, id: 1)) == 123)
        #expect(await late.closeCode() == 4501)
        try await server.stop()
    }

    @Test func badOrdersAreRefusedWithTheReason() async throws {
        let server = try await TestServer.start()
        let cases: [(String, String, String)] = [
            ("/api/disconnect", "not json", "body must be a JSON object"),
            ("/api/disconnect", "{}", "give exactly one of user and client"),
            ("/api/disconnect", #"{"user":"a","client":"b"}"#, "give exactly one of user and client"),
            ("/api/disconnect", #"{"user":""}"#, "user must be a non-empty string of at most 1024 bytes"),
            ("/api/disconnect", #"{"client":7}"#, "client must be a non-empty string of at most 1024 bytes"),
            ("/api/disconnect", #"{"user":"a","reconnect":"yes"}"#, "reconnect must be true or false"),
            ("/api/revoke", "{}", "token_id is required"),
            ("/api/revoke", #"{"token_id":"\#(String(repeating: "x", count: 1025))"}"#, "token_id must be a non-empty string of at most 1024 bytes"),
            ("/api/revoke", #"{"token_id":"t","expires_at":1}"#, "expires_at must be Unix seconds in the future, at most 366 days ahead"),
            ("/api/revoke", #"{"token_id":"t","expires_at":99999999999}"#, "expires_at must be Unix seconds in the future, at most 366 days ahead"),
        ]
        for (path, body, reason) in cases {
            let answer = try await server.http("POST", path, body: body)
            #expect(answer.status == 400, "\(path) \(body)")
            #expect((answer.json?["error"] as? [String: Any])?["reason"] as? String == reason, "\(path) \(body)")
        }
        for path in ["/api/disconnect", "/api/revoke"] {
            #expect(try await server.http("POST", path, body: #"{"user":"a","token_id":"t"}"#, apiKey: nil).status == 401)
        }
        try await server.stop()
    }

    @Test func anEngineThatCannotCarryTheOrderIsAnswered503AfterThisNodeAppliedIt() async throws {
        let broker = FaultyBroker()
        broker.set("broadcast", .fail(.unavailable))
        let server = try await TestServer.start(broker: broker)
        let alice = try await connected(server, try await TestServer.token("alice"))
        let answer = try await server.http("POST", "/api/disconnect", body: #"{"user":"alice"}"#)
        #expect(answer.status == 503)
        #expect(answer.head.header("retry-after") == "1")
        #expect(errorCode(answer.json) == 136)
        #expect(await close(of: alice)?.0 == 4005)
        try await server.stop()
    }
}

import Foundation
import NIOCore
import SwitchboardClient
import SwitchboardCore
import Testing

/// Origin checks, CORS, connection and rate limits, and the audit log.
@Suite(.timeLimit(.minutes(1))) struct SecurityTests {
    @Test func webSocketFromAForeignOriginIsRefusedWith403BeforeTheUpgrade() async throws {
        let server = try await TestServer.start()
        let refusal = await #expect(throws: HTTPRefusal.self) { try await server.webSocket(headers: [("origin", "https://evil.example")]) }
        #expect(refusal?.status == 403)
        #expect(errorCode(object(refusal?.body)) == 127)
        _ = try await server.webSocket(headers: [("origin", "http://localhost:5173")])  // development allows localhost
        try await server.stop()
    }

    @Test func sandboxedPagesWithOriginNullAreRefused() async throws {
        let server = try await TestServer.start()
        let refusal = await #expect(throws: HTTPRefusal.self) { try await server.webSocket(headers: [("origin", "null")]) }
        #expect(refusal?.status == 403)
        try await server.stop()
    }

    @Test func productionAllowsSameOriginAndTheConfiguredList() async throws {
        let server = try await TestServer.start {
            $0.mode = .production
            $0.allowedOrigins = ["https://*.example.com"]
        }
        _ = try await server.webSocket(headers: [("origin", "http://127.0.0.1:\(server.port)")])  // same origin (host header)
        _ = try await server.webSocket(headers: [("origin", "https://app.example.com")])
        let local = await #expect(throws: HTTPRefusal.self) { try await server.webSocket(headers: [("origin", "http://localhost:3000")]) }
        #expect(local?.status == 403)
        try await server.stop()
    }

    @Test func apiAnswersCORSPreflightsForAllowedOriginsOnly() async throws {
        let server = try await TestServer.start()
        let allowed = try await HTTPClient.request(
            "OPTIONS", host: "127.0.0.1", port: server.port, path: "/api/publish",
            headers: [("origin", "http://localhost:3000"), ("access-control-request-method", "POST")]
        )
        #expect(allowed.status == 204)
        #expect(allowed.head.header("access-control-allow-origin") == "http://localhost:3000")
        #expect(allowed.head.header("access-control-allow-headers")?.contains("authorization") == true)
        let refused = try await HTTPClient.request(
            "OPTIONS", host: "127.0.0.1", port: server.port, path: "/api/publish",
            headers: [("origin", "https://evil.example"), ("access-control-request-method", "POST")]
        )
        #expect(refused.status == 403)
        try await server.stop()
    }

    @Test func apiErrorsCarryCORSHeadersSoBrowsersCanReadThem() async throws {
        let server = try await TestServer.start()
        let response = try await HTTPClient.request(
            "POST", host: "127.0.0.1", port: server.port, path: "/api/publish", headers: [("origin", "http://localhost:3000")],
            body: ByteBuffer(string: "{}")
        )
        #expect(response.status == 401)
        #expect(response.head.header("access-control-allow-origin") == "http://localhost:3000")
        try await server.stop()
    }

    @Test func connectionsPerIPAreCappedWith429() async throws {
        let server = try await TestServer.start { $0.limits.maxConnectionsPerIP = 2 }
        let first = try await server.webSocket()
        let second = try await server.sse(path: "/raw/sse/a")
        let third = await #expect(throws: HTTPRefusal.self) { try await server.webSocket() }
        #expect(third?.status == 429)
        #expect(errorCode(object(third?.body)) == 128)
        await first.close()
        // The slot is free again once the first connection has closed.
        var admitted = false
        for _ in 0..<50 where !admitted {
            admitted = (try? await server.webSocket()) != nil
        }
        #expect(admitted)
        await second.close()
        try await server.stop()
    }

    @Test func connectionsPerUserAreCapped() async throws {
        let server = try await TestServer.start { $0.limits.maxConnectionsPerUser = 1 }
        let token = try await TestServer.token("alice")
        _ = try await server.sse(path: "/raw/sse/a?token=\(token)")
        let second = await #expect(throws: HTTPRefusal.self) { try await server.sse(path: "/raw/sse/a?token=\(token)") }
        #expect(second?.status == 429)
        try await server.stop()
    }

    /// Over the command rate a client first gets errors; after 20 strikes (refusals minus accepted commands) it is
    /// disconnected with 4004.
    @Test func commandFloodGetsErrorsThenADisconnect() async throws {
        // One command per second. A loaded machine may read the flood slowly enough to earn a token now and then;
        // each takes one strike away, so 200 commands still end in the close unless they take over 90 s to arrive.
        let server = try await TestServer.start { $0.limits.commandsPerSecond = 1 }
        let client = try await server.webSocket()
        for id in 1...200 { try? await client.send(text: #"{"id":\#(id),"cmd":"ping"}"#) }  // the server closes mid-flood
        var limited = 0
        var closeCode: UInt16?
        while let message = await client.receive() {
            if case .text(let text) = message, errorCode(object(text)) == 128 { limited += 1 }
            if case .close(let code, _) = message { closeCode = code }
        }
        #expect(limited >= 20)
        #expect(closeCode == 4004)
        try await server.stop()
    }

    @Test func clientPublishRateIsLimitedPerUserWithoutLosingAcceptedPublications() async throws {
        let server = try await TestServer.start { $0.limits.publishesPerSecondPerUser = 5 }
        let client = try await server.webSocket()
        // In one write: sent one by one, a loaded machine spread them over more than six seconds and none was refused.
        try await client.send(texts: (1...30).map { #"{"id":\#($0),"cmd":"publish","channel":"flood","data":\#($0)}"# })
        var accepted: [Int] = []
        var refused = 0
        while accepted.count + refused < 30, let text = await client.receiveText() {
            let message = try #require(object(text))
            if let result = message["result"] as? [String: Any] { accepted.append(result["offset"] as! Int) }
            if errorCode(message) == 128 { refused += 1 }
        }
        #expect(refused > 0)
        let history = try await server.http("GET", "/api/history?channel=flood&limit=100")
        #expect((history.json?["publications"] as? [[String: Any]])?.map { $0["offset"] as! Int } == accepted)
        try await server.stop()
    }

    @Test func apiRequestRateIsLimitedWith429() async throws {
        let server = try await TestServer.start { $0.limits.apiRequestsPerSecond = 2 }
        // All at once, so a slow (loaded) machine cannot refill the bucket between them.
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for value in 1...8 {
                group.addTask { try await server.http("POST", "/api/publish", body: #"{"channel":"x","data":\#(value)}"#).status }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.contains(429))
        #expect(statuses.contains(200))
        try await server.stop()
    }

    @Test func auditLogRecordsConnectionsAuthFailuresAndDenialsWithoutTokens() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString).jsonl").path
        let server = try await TestServer.start { $0.auditLog = path }
        let token = try await TestServer.token("alice", capabilities: Capabilities(subscribe: [ChannelPattern("a")]))
        let client = try await server.webSocket(headers: [("authorization", "Bearer \(token)")])
        _ = try await client.command(#"{"id":1,"cmd":"publish","channel":"b","data":1}"#, id: 1)
        _ = try? await server.webSocket(headers: [("authorization", "Bearer forged.token.value")])
        await client.close()
        try await server.stop()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { object(String($0)) }
        let events = lines.map { $0["event"] as? String }
        #expect(events.contains("connection_opened"))
        #expect(events.contains("auth_failed"))
        #expect(events.contains("permission_denied"))
        #expect(events.contains("connection_closed"))
        #expect(lines.contains { $0["user"] as? String == "alice" })
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!text.contains(token))
        #expect(!text.contains("forged.token.value"))
    }
}

import Testing

/// The log lines docs/operations.md promises for events a pytest cannot easily cause: an engine failure and a
/// slow-consumer disconnect, each also counted in its metric.
@Suite(.timeLimit(.minutes(1))) struct OperationalLogTests {
    /// A failed engine call is one `error` line naming the operation and outcome, and counts as `failed`.
    @Test func aFailedEngineCallIsLoggedAsAnErrorAndTimedAsFailed() async throws {
        let logs = LogCapture()
        let broker = FaultyBroker()
        broker.set("publish", .fail(.unavailable))
        let server = try await TestServer.start(broker: broker, logs: logs)
        #expect(try await server.http("POST", "/api/publish", body: #"{"channel":"news","data":1}"#).status == 503)

        let failures = logs.entries("engine call failed")
        #expect(failures.count == 1)
        #expect(failures.first?["level"] as? String == "error")
        #expect(failures.first?["operation"] as? String == "publish")
        #expect(failures.first?["outcome"] as? String == "failed")
        #expect(failures.first?["retryable"] as? String == "true")
        #expect(try await server.metric(#"switchboard_engine_call_duration_seconds_count{operation="publish",outcome="failed"}"#) == 1)
        let refusal = try #require(logs.entries("request refused").first)
        #expect(refusal["status"] as? String == "503" && refusal["path"] as? String == "/api/publish")
        try await server.stop()
    }

    /// A subscription whose max rate holds more than the queue bound is closed with 4002: one `notice` line with the
    /// reason, the close line with the code, and the metric under its transport and reason.
    @Test func aSlowConsumerDisconnectIsLoggedWithItsReason() async throws {
        let logs = LogCapture()
        let server = try await TestServer.start(logs: logs) { $0.limits.outboundQueueMessages = 4 }
        let ws = try await server.webSocket()
        _ = try await ws.command(#"{"id":1,"cmd":"subscribe","channel":"fast","maxRate":1}"#, id: 1)
        // One batch: all ten arrive at once, whatever the machine's load (one at a time, a slow machine lets the
        // 1/s pacer drain them and the backlog never crosses the bound).
        let batch = (1...10).map { #"{"channel":"fast","data":\#($0)}"# }.joined(separator: ",")
        #expect(try await server.http("POST", "/api/publish", body: #"{"publications":[\#(batch)]}"#).status == 200)
        #expect(await ws.closeCode() == 4002)
        try await server.waitForMetric(#"switchboard_connections{transport="websocket"}"#, toBe: 0)

        let slow = try #require(logs.entries("slow consumer disconnected").first)
        #expect(slow["level"] as? String == "notice")
        #expect(slow["reason"] as? String == "max_rate_backlog_full")
        #expect(slow["transport"] as? String == "websocket")
        let closed = try #require(logs.entries("connection closed").first)
        #expect(closed["session"] as? String == slow["session"] as? String)
        #expect(closed["close_code"] as? String == "4002")
        #expect(try await server.metric(#"switchboard_slow_consumer_disconnects_total{transport="websocket",reason="max_rate_backlog_full"}"#) == 1)
        try await server.stop()
    }
}

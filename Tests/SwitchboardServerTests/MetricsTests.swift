import Testing

@Suite(.timeLimit(.minutes(1))) struct MetricsTests {
    @Test func metricsCountConnectionsPublicationsAndDeliveries() async throws {
        let server = try await TestServer.start()
        let ws = try await server.webSocket()
        _ = try await ws.command(#"{"id":1,"cmd":"subscribe","channel":"m"}"#, id: 1)
        let sse = try await server.sse(path: "/connection/sse?channel=m")
        _ = await sse.nextPush("subscribed")
        try await server.publish("m", "1")
        _ = await ws.nextPush("publication")
        _ = await sse.nextPush("publication")

        #expect(try await server.metric(#"switchboard_connections{transport="websocket"}"#) == 1)
        #expect(try await server.metric(#"switchboard_connections{transport="sse"}"#) == 1)
        #expect(try await server.metric("switchboard_subscriptions") == 2)
        #expect(try await server.metric(#"switchboard_publications_total{source="api"}"#) == 1)
        #expect(try await server.metric("switchboard_deliveries_total") == 2)
        try await server.stop()
    }

    @Test func refusalsAreCountedByErrorCode() async throws {
        let server = try await TestServer.start()
        _ = try await server.http("POST", "/api/publish", body: "{}", apiKey: "wrong")
        #expect(try await server.metric(#"switchboard_errors_total{code="116",name="invalid_api_key"}"#) == 1)
        try await server.stop()
    }

    @Test func healthAndReadinessAnswerWhileServing() async throws {
        let server = try await TestServer.start()
        #expect(try await server.http("GET", "/healthz", apiKey: nil).status == 200)
        #expect(try await server.http("GET", "/readyz", apiKey: nil).bodyText == #"{"status":"ready"}"#)
        try await server.stop()
    }
}

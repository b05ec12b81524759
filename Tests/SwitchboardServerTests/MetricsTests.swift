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

    /// Every live delivery is one latency observation under its transport, taken when the tick's write is flushed.
    @Test func deliveryLatencyIsObservedOncePerDeliveryPerTransport() async throws {
        let server = try await TestServer.start()
        let first = try await server.webSocket()
        let second = try await server.webSocket()
        for client in [first, second] { _ = try await client.command(#"{"id":1,"cmd":"subscribe","channel":"lat"}"#, id: 1) }
        let sse = try await server.sse(path: "/connection/sse?channel=lat")
        _ = await sse.nextPush("subscribed")
        for value in 1...3 { try await server.publish("lat", "\(value)") }
        for _ in 1...3 {
            for client in [first, second] { _ = await client.nextPush("publication") }
            _ = await sse.nextPush("publication")
        }

        let websocket = #"transport="websocket""#
        #expect(try await server.metric("switchboard_delivery_latency_seconds_count{\(websocket)}") == 6)
        #expect(try await server.metric(#"switchboard_delivery_latency_seconds_count{transport="sse"}"#) == 3)
        #expect(try await server.metric(#"switchboard_delivery_latency_seconds_bucket{transport="websocket",le="+Inf"}"#) == 6)
        // Loopback on an idle-enough machine: well under the top bound, and measured (not zero).
        #expect(try await server.metric(#"switchboard_delivery_latency_seconds_bucket{transport="websocket",le="5.0"}"#) == 6)
        #expect(try await server.metric("switchboard_delivery_latency_seconds_sum{\(websocket)}") ?? 0 > 0)
        try await server.stop()
    }

    /// Publishing times the engine call under its operation and outcome, and observes the published data's size.
    @Test func engineCallsAreTimedAndPublicationSizesObserved() async throws {
        let server = try await TestServer.start()
        try await server.publish("sizes", #""0123456789""#)
        try await server.publish("sizes", "1")
        #expect(try await server.metric(#"switchboard_engine_call_duration_seconds_count{operation="publish",outcome="ok"}"#) == 2)
        #expect(try await server.metric("switchboard_publication_size_bytes_count") == 2)
        #expect(try await server.metric("switchboard_publication_size_bytes_sum") == 13)
        try await server.stop()
    }

    /// Subscriptions are counted per transport and configured namespace; other namespaces share `other`.
    @Test func subscriptionsAreCountedPerTransportAndNamespace() async throws {
        let server = try await TestServer.start { $0.namespaces["chat"] = $0.channelDefaults }
        let ws = try await server.webSocket()
        for (id, channel) in ["chat:a", "chat:b", "plain", "unlisted:x"].enumerated() {
            _ = try await ws.command(#"{"id":\#(id + 1),"cmd":"subscribe","channel":"\#(channel)"}"#, id: id + 1)
        }
        let sse = try await server.sse(path: "/connection/sse?channel=chat:a")
        _ = await sse.nextPush("subscribed")

        #expect(try await server.metric(#"switchboard_namespace_subscriptions{transport="websocket",namespace="chat"}"#) == 2)
        #expect(try await server.metric(#"switchboard_namespace_subscriptions{transport="websocket",namespace=""}"#) == 1)
        #expect(try await server.metric(#"switchboard_namespace_subscriptions{transport="websocket",namespace="other"}"#) == 1)
        #expect(try await server.metric(#"switchboard_namespace_subscriptions{transport="sse",namespace="chat"}"#) == 1)
        _ = try await ws.command(#"{"id":9,"cmd":"unsubscribe","channel":"chat:b"}"#, id: 9)
        #expect(try await server.metric(#"switchboard_namespace_subscriptions{transport="websocket",namespace="chat"}"#) == 1)
        try await server.stop()
    }

    /// A subscribe with a position counts as an exact recovery or a reset, per transport; one without counts as neither.
    @Test func recoveriesAreCountedExactOrReset() async throws {
        let server = try await TestServer.start()
        try await server.publish("r", "1")
        let epoch = try #require(try await server.http("GET", "/api/history?channel=r").json?["epoch"] as? String)
        let ws = try await server.webSocket()
        _ = try await ws.command(#"{"id":1,"cmd":"subscribe","channel":"r","since":{"epoch":"\#(epoch)","offset":0}}"#, id: 1)
        _ = try await ws.command(#"{"id":2,"cmd":"subscribe","channel":"r2","since":{"epoch":"older","offset":1}}"#, id: 2)
        _ = try await ws.command(#"{"id":3,"cmd":"subscribe","channel":"r3"}"#, id: 3)

        #expect(try await server.metric(#"switchboard_recoveries_total{transport="websocket",outcome="exact"}"#) == 1)
        #expect(try await server.metric(#"switchboard_recoveries_total{transport="websocket",outcome="reset"}"#) == 1)
        try await server.stop()
    }

    /// Each rate limit's refusals are counted under its configuration key, and still once under `rate_limited`.
    @Test func rateLimitRefusalsAreCountedPerLimit() async throws {
        let server = try await TestServer.start { $0.limits.commandsPerSecond = 1 }
        let ws = try await server.webSocket()
        for id in 1...3 { try await ws.send(text: #"{"id":\#(id),"cmd":"ping"}"#) }
        var refused = 0
        var answered = 0
        while answered < 3, let message = object(await ws.receiveText()) {
            guard message["id"] != nil else { continue }  // pushes
            answered += 1
            if errorCode(message) == 128 { refused += 1 }
        }
        #expect(refused >= 1)
        #expect(try await server.metric(#"switchboard_rate_limited_total{limit="commands_per_second"}"#) == Double(refused))
        #expect(try await server.metric(#"switchboard_errors_total{code="128",name="rate_limited"}"#) == Double(refused))
        #expect(try await server.metric(#"switchboard_rate_limited_total{limit="publishes_per_second_per_user"}"#) == 0)
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

import NIOCore
import SwitchboardClient
import Testing

@Suite(.timeLimit(.minutes(1))) struct LimitsTests {
    @Test func subscriptionsPerConnectionAreCapped() async throws {
        let server = try await TestServer.start { $0.limits.maxSubscriptionsPerConnection = 2 }
        let client = try await server.webSocket()
        _ = try await client.command(#"{"id":1,"cmd":"subscribe","channel":"a"}"#, id: 1)
        _ = try await client.command(#"{"id":2,"cmd":"subscribe","channel":"b"}"#, id: 2)
        let third = try await client.command(#"{"id":3,"cmd":"subscribe","channel":"c"}"#, id: 3)
        #expect((third?["error"] as? [String: Any])?["code"] as? Int == 106)
        let again = try await client.command(#"{"id":4,"cmd":"subscribe","channel":"a"}"#, id: 4)
        #expect((again?["error"] as? [String: Any])?["code"] as? Int == 105)
        try await server.stop()
    }

    @Test func sseStreamsNameAtMostTheConfiguredNumberOfChannels() async throws {
        let server = try await TestServer.start { $0.limits.maxSSEChannels = 2 }
        let refusal = await #expect(throws: HTTPRefusal.self) { try await server.sse(path: "/connection/sse?channel=a&channel=b&channel=c") }
        #expect(refusal?.status == 400)
        #expect((object(refusal?.body)?["error"] as? [String: Any])?["code"] as? Int == 117)
        try await server.stop()
    }

    @Test func aClientThatNeverFinishesItsRequestGets408() async throws {
        let server = try await TestServer.start { $0.limits.handshakeTimeout = .milliseconds(200) }
        let connection = try await ByteConnection.connect(host: "127.0.0.1", port: server.port)
        var reader = connection.reader()
        try await connection.write("GET /connection/websocket HTTP/1.1\r\nhost: x\r\n")
        let response = String(decoding: await reader.readToEnd().readableBytesView, as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 408"))
        try await server.stop()
    }

    @Test func aPeerThatStopsAnsweringHeartbeatsIsClosedWith4003() async throws {
        let server = try await TestServer.start {
            $0.heartbeat.interval = .milliseconds(100)
            $0.heartbeat.timeout = .milliseconds(200)
        }
        let client = try await server.webSocket()
        client.answersPings = false
        var sawPingPush = false
        var closeCode: UInt16?
        while let message = await client.receive() {
            switch message {
            case .text(let text): if object(text)?["push"] as? String == "ping" { sawPingPush = true }
            case .close(let code, _): closeCode = code
            case .binary: break
            }
        }
        #expect(sawPingPush)
        #expect(closeCode == 4003)
        #expect(try await server.metric("switchboard_heartbeat_timeouts_total") == 1)
        try await server.stop()
    }

    @Test func aPeerThatAnswersHeartbeatsStaysConnected() async throws {
        let server = try await TestServer.start {
            $0.heartbeat.interval = .milliseconds(50)
            $0.heartbeat.timeout = .seconds(30)  // generous: a busy test machine may answer late, which is not what this tests
        }
        let client = try await server.webSocket()
        var pings = 0
        while pings < 6, let message = await client.receive() {
            if case .text(let text) = message, object(text)?["push"] as? String == "ping" { pings += 1 }
        }
        #expect(pings == 6)
        #expect(try await client.command(#"{"id":1,"cmd":"ping"}"#, id: 1)?["result"] != nil)
        try await server.stop()
    }

    @Test func sseStreamsCarryCommentHeartbeats() async throws {
        let server = try await TestServer.start { $0.heartbeat.interval = .milliseconds(50) }
        let stream = try await server.sse(path: "/connection/sse?channel=hb")
        _ = await stream.nextPush("subscribed")
        try await server.publish("other", "1")  // unrelated traffic does not count
        while stream.comments < 2 {
            try await server.publish("hb", "1")
            _ = await stream.next()
        }
        #expect(stream.comments >= 2)
        #expect(stream.retry == 2000)
        try await server.stop()
    }

    /// A subscriber that stops reading is disconnected once its queue is full, and the queue never exceeds its bound.
    @Test func slowReaderIsDisconnectedAndItsQueueStaysBounded() async throws {
        let queueBound = 64 * 1024
        let server = try await TestServer.start {
            $0.limits.outboundQueueBytes = queueBound
            $0.limits.writeBufferHighWaterBytes = 16 * 1024
            $0.limits.maxMessageBytes = 16 * 1024
        }
        let slow = try await server.webSocket()
        _ = try await slow.command(#"{"id":1,"cmd":"subscribe","channel":"firehose"}"#, id: 1)
        try await slow.connection.setReading(false)

        let healthy = try await server.webSocket()
        _ = try await healthy.command(#"{"id":1,"cmd":"subscribe","channel":"firehose"}"#, id: 1)

        let payload = #"{"pad":""# + String(repeating: "p", count: 4000) + #""}"#
        let publisher = try await server.webSocket()
        var published = 0
        var healthyReceived = 0
        // Loopback socket buffers absorb several megabytes; publish until the server gives up on the slow reader.
        while try await server.metric(#"switchboard_slow_consumer_disconnects_total{transport="websocket",reason="outbound_queue_full"}"#) == 0 {
            for _ in 0..<200 {
                published += 1
                try await publisher.send(text: #"{"id":\#(published),"cmd":"publish","channel":"firehose","data":\#(payload)}"#)
            }
            while healthyReceived < published, await healthy.nextPush("publication") != nil { healthyReceived += 1 }
            #expect(published < 20_000, "slow reader was never disconnected")
            if published >= 20_000 { break }
        }
        let peak = try #require(try await server.metric("switchboard_outbound_queue_peak_bytes"))
        #expect(peak > 0)
        #expect(peak <= Double(queueBound))
        #expect(healthyReceived == published)

        // The slow reader stays stalled for a second (the input, like a frozen tab, not a wait for the server), then
        // reads again: it gets what was already on its way, then the disconnect push and close 4002, not a bare end of
        // stream (with 100 ms to read it the socket used to be closed under the close frame).
        try await Task.sleep(for: .seconds(1))
        try await slow.connection.setReading(true)
        var disconnectCode: Int?
        var closeCode: UInt16?
        while let message = await slow.receive() {
            if case .text(let text) = message, let push = object(text), push["push"] as? String == "disconnect" {
                disconnectCode = push["code"] as? Int
            }
            if case .close(let code, _) = message { closeCode = code }
        }
        #expect(disconnectCode == 4002)
        #expect(closeCode == 4002)
        try await server.stop()
    }
}

import Testing

@testable import SwitchboardServer

struct DeliveryLatencyHistogramTests {
    /// One observation with a count per transport adds that count to the transport's bucket, sum and count; the
    /// exposition is cumulative, in seconds, and has no poll series (poll deliveries are not measured).
    @Test func weightedObservationsAreExposedAsACumulativeHistogramPerTransport() {
        let histogram = DeliveryLatencyHistogram(name: "t_seconds", help: "Test.")
        var threeWebSocketsOneSSE = DeliveriesByTransport()
        for _ in 0..<3 { threeWebSocketsOneSSE.add(.websocket) }
        threeWebSocketsOneSSE.add(.sse)
        var oneWebSocket = DeliveriesByTransport()
        oneWebSocket.add(.websocket)
        histogram.record([(latencyNanoseconds: 80_000, deliveries: threeWebSocketsOneSSE), (latencyNanoseconds: 2_000_000, deliveries: oneWebSocket)])

        var buffer: [UInt8] = []
        histogram.emit(into: &buffer)
        let lines = String(decoding: buffer, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.prefix(2) == ["# HELP t_seconds Test.", "# TYPE t_seconds histogram"])
        #expect(lines.contains(#"t_seconds_bucket{transport="websocket",le="5e-05"} 0"#))
        #expect(lines.contains(#"t_seconds_bucket{transport="websocket",le="0.0001"} 3"#))
        #expect(lines.contains(#"t_seconds_bucket{transport="websocket",le="0.001"} 3"#))
        #expect(lines.contains(#"t_seconds_bucket{transport="websocket",le="0.0025"} 4"#))
        #expect(lines.contains(#"t_seconds_bucket{transport="websocket",le="+Inf"} 4"#))
        #expect(lines.contains(#"t_seconds_count{transport="websocket"} 4"#))
        #expect(lines.contains(#"t_seconds_sum{transport="websocket"} 0.00224"#))
        #expect(lines.contains(#"t_seconds_count{transport="sse"} 1"#))
        #expect(lines.contains(#"t_seconds_sum{transport="sse"} 8e-05"#))
        #expect(!lines.contains { $0.contains(#"transport="poll""#) })
    }

    /// A latency above every bound lands only in `+Inf`.
    @Test func aLatencyAboveEveryBoundCountsOnlyInInf() {
        #expect(DeliveryLatencyHistogram.bucketIndex(50_000) == 0)
        #expect(DeliveryLatencyHistogram.bucketIndex(50_001) == 1)
        #expect(DeliveryLatencyHistogram.bucketIndex(6_000_000_000) == DeliveryLatencyHistogram.bucketBounds.count)
    }
}

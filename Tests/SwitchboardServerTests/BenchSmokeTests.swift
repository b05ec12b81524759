import Foundation
import Testing

@testable import SwitchboardBench

/// `switchboard bench` against a live server: a short, small run must see every publication exactly once.
@Suite struct BenchSmokeTests {
    @Test func aShortMixedRunDeliversEveryPublicationExactlyOnceInOrder() async throws {
        let server = try await TestServer.start()
        var options = BenchOptions()
        options.port = server.port
        options.apiKey = TestServer.apiKey
        options.webSocketSubscribers = 150
        options.sseSubscribers = 50
        options.channels = 2
        options.publishRate = 50
        options.duration = 2
        options.settleSeconds = 0.2
        options.drainSeconds = 5
        options.serverPID = getpid()
        options.progress = false

        let report = try await BenchRunner.run(options) { _ in }

        #expect(report.established == 200)
        #expect(report.failed == 0)
        #expect(report.publicationsAccepted == 100)
        #expect(report.expectedDeliveries == 200 * 50)
        #expect(report.delivered == report.expectedDeliveries)
        #expect(report.lost == 0)
        #expect(report.duplicated == 0)
        #expect(report.outOfOrder == 0)
        #expect(report.latencyMillis.samples == UInt64(report.delivered))
        #expect(report.server?.publishCPUSeconds ?? -1 >= 0)
        try await server.stop()
    }

    @Test func payloadStampIsFoundAgainInsideAnEnvelope() {
        let data = PayloadStamp.data(sequence: 42, timestamp: 1_700_000_000_123_456_789, size: 128)
        #expect(data.utf8.count == 128)
        let envelope = Array(#"{"push":"publication","channel":"c","offset":43,"data":\#(data)}"#.utf8)
        let stamp = envelope.withUnsafeBytes { PayloadStamp.find(in: $0) }
        #expect(stamp?.sequence == 42)
        #expect(stamp?.timestamp == 1_700_000_000_123_456_789)
        #expect(Array("{\"push\":\"ping\"}".utf8).withUnsafeBytes { PayloadStamp.find(in: $0) } == nil)
    }

    @Test func tallyCountsDuplicatesReorderingAndLossSeparately() {
        let tally = SubscriberTally(channelIndex: 0, expectedSequences: 10)
        for sequence in [0, 1, 3, 2, 3, 200] { tally.record(sequence: sequence) }
        #expect(tally.delivered == 5)
        #expect(tally.duplicated == 1)
        #expect(tally.outOfOrder == 1)
        #expect(tally.lost(ofExpected: 6) == 2)
    }
}

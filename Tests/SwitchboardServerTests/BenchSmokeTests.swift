import Foundation
import Testing

@testable import SwitchboardBench

/// `switchboard bench` building blocks. The live smoke run is tests/cli/test_bench_smoke.py: it runs after the Swift
/// suites, alone, so parallel tests do not starve it.
@Suite struct BenchSmokeTests {
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

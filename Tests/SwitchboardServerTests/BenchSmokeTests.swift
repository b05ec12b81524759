import Foundation
import NIOCore
import Testing

@testable import SwitchboardBench

/// `switchboard bench` as a specification: its building blocks, and short live runs against an in-process hub in
/// every mode and transport, each asserting that nothing was lost, duplicated or reordered. The runs are small (a
/// few hundred connections, about two seconds) and run one at a time, so a busy CI machine only makes them slower.
@Suite(.serialized, .timeLimit(.minutes(2))) struct BenchSmokeTests {
    @Test func payloadStampIsFoundAgainInsideAnEnvelope() {
        let data = PayloadStamp.data(sequence: 42, timestamp: 1_700_000_000_123_456_789, size: 128)
        #expect(data.utf8.count == 128)
        let envelope = Array(#"{"push":"publication","channel":"c","offset":43,"data":\#(data)}"#.utf8)
        let stamp = envelope.withUnsafeBytes { PayloadStamp.find(in: $0) }
        #expect(stamp?.sequence == 42)
        #expect(stamp?.timestamp == 1_700_000_000_123_456_789)
        #expect(Array("{\"push\":\"ping\"}".utf8).withUnsafeBytes { PayloadStamp.find(in: $0) } == nil)
    }

    @Test func everyStampOfALongPollBatchIsFound() {
        let messages = (0..<3).map { #"{"push":"publication","data":\#(PayloadStamp.data(sequence: $0, timestamp: 100 + UInt64($0), size: 64))}"# }
        let body = Array(#"{"seq":9,"messages":[\#(messages.joined(separator: ","))]}"#.utf8)
        var found: [Int] = []
        body.withUnsafeBytes { bytes in
            let afterEnvelopeSequence = PayloadStamp.indexAfter(PayloadStamp.sequenceKey, in: bytes, from: 0)!
            PayloadStamp.forEach(in: bytes, from: afterEnvelopeSequence) { sequence, _ in found.append(sequence) }
        }
        #expect(found == [0, 1, 2])
    }

    @Test func tallyCountsDuplicatesReorderingAndLossSeparately() {
        let tally = SubscriberTally(channelIndex: 0, expectedSequences: 10)
        for sequence in [0, 1, 3, 2, 3, 200] { tally.record(sequence: sequence) }
        #expect(tally.delivered == 5)
        #expect(tally.duplicated == 1)
        #expect(tally.outOfOrder == 1)
        #expect(tally.lost(ofExpected: 6) == 2)
    }

    @Test func aTallyRemembersWhereToResumeFrom() {
        let tally = SubscriberTally(channelIndex: 0, expectedSequences: 10)
        #expect(tally.sinceMember == "")
        tally.noteSubscribeReply(#"{"id":1,"result":{"channel":"c","epoch":"k3F9aZ0q","offset":12}}"#)
        #expect(tally.sinceMember == #","since":{"epoch":"k3F9aZ0q","offset":12}"#)
        #expect(!tally.wasReset)
        tally.noteSubscribeReply(#"{"id":1,"result":{"channel":"c","epoch":"P0q7","offset":5,"recovered":false,"reason":"x"}}"#)
        #expect(tally.wasReset)
    }

    @Test func transportsOfAMixAreInterleavedEvenly() {
        let plan = SubscriberTransport.plan(webSocket: 4, sse: 2, poll: 2)
        #expect(plan.count == 8)
        #expect(plan.filter { $0 == .webSocket }.count == 4)
        #expect(plan.filter { $0 == .poll }.count == 2)
        // Each half of the run holds half of every kind.
        #expect(plan.prefix(4).filter { $0 == .webSocket }.count == 2)
    }

    @Test func workersSplitTheSubscribersWithoutOverlap() {
        var options = BenchOptions()
        options.webSocketSubscribers = 10
        options.pollSubscribers = 5
        let shares = (0..<3).map { options.share(forWorker: $0, of: 3) }
        #expect(shares.map(\.webSocketSubscribers) == [4, 3, 3])
        #expect(shares.map(\.pollSubscribers) == [2, 2, 1])
        #expect(shares.map(\.firstSubscriberIndex) == [0, 6, 11])
        #expect(shares.allSatisfy { $0.runID == options.runID && $0.workers == 1 })
    }

    @Test func httpResponsesOfAKeepAliveConnectionAreSplitByContentLength() throws {
        var reader = HTTPResponseReader()
        var bytes = ByteBuffer(string: "HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel")
        reader.append(&bytes)
        let first = try reader.next()
        #expect(first?.status == 202)
        #expect(first.map { String(buffer: $0.body) } == "ok")
        #expect(try reader.next() == nil)
        var rest = ByteBuffer(string: "lo")
        reader.append(&rest)
        #expect(try reader.next().map { String(buffer: $0.body) } == "hello")
    }

    // MARK: live runs

    @Test func aMixOfWebSocketSSEAndLongPollSubscribersReceivesEveryPublicationOnce() async throws {
        let report = try await run {
            $0.webSocketSubscribers = 100
            $0.sseSubscribers = 50
            $0.pollSubscribers = 100
            $0.channels = 2
            $0.publishRate = 50
            $0.duration = 2
        }
        #expect(report.established == 250 && report.failed == 0)
        #expect(report.expectedDeliveries == 250 * 50)
        expectNothingMissing(report)
    }

    @Test func echoClientsSeeEachOfTheirOwnPublicationsComeBack() async throws {
        let report = try await run {
            $0.mode = .echo
            $0.webSocketSubscribers = 100
            $0.publishRate = 200
            $0.duration = 2
        }
        #expect(report.established == 100)
        #expect(report.echo?.sent == 400)
        #expect(report.echo?.accepted == 400)
        #expect(report.expectedDeliveries == 400)
        #expect(report.latencyMillis.samples == 400)
        expectNothingMissing(report)
    }

    @Test func aReconnectStormRecoversEveryMissedPublicationExactlyOnce() async throws {
        let report = try await run {
            $0.mode = .reconnectStorm
            $0.webSocketSubscribers = 200
            $0.channels = 2
            $0.missedPublications = 20
            $0.publishRate = 1_000
        }
        #expect(report.established == 200)
        #expect(report.storm?.reconnected == 200)
        #expect(report.storm?.recovered == 200)
        #expect(report.storm?.resets == 0)
        #expect(report.storm?.allRecoveredSeconds != nil)
        #expect(report.expectedDeliveries == 200 * 20)
        expectNothingMissing(report)
    }

    private func expectNothingMissing(_ report: BenchReport, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(report.delivered == report.expectedDeliveries, sourceLocation: sourceLocation)
        #expect(report.lost == 0 && report.duplicated == 0 && report.outOfOrder == 0, sourceLocation: sourceLocation)
        #expect(report.closedEarly == 0, sourceLocation: sourceLocation)
    }

    /// One bench run against a fresh in-process hub; the drain is generous because a CI machine may be busy.
    private func run(_ configure: (inout BenchOptions) -> Void) async throws -> BenchReport {
        let server = try await TestServer.start()
        var options = BenchOptions()
        options.port = server.port
        options.apiKey = TestServer.apiKey
        options.progress = false
        options.settleSeconds = 0.2
        options.drainSeconds = 5
        configure(&options)
        let report = try await BenchRunner.run(options) { _ in }
        try await server.stop()
        return report
    }
}

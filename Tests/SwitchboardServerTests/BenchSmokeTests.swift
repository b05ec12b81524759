import CompressNIO
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import SwitchboardClient
import SwitchboardCore
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

    @Test func aResponseHeadIsTakenOnlyOnceCompleteAndAMalformedOneIsRefused() throws {
        var bytes = ByteBuffer(string: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nx-a: 2\r\n")
        #expect(try HTTPResponseHead.read(from: &bytes) == nil)
        #expect(bytes.readerIndex == 0)
        bytes.writeString("\r\nbody")
        let head = try HTTPResponseHead.read(from: &bytes)
        #expect(head?.status == 200)
        #expect(head?.isChunked == true)
        #expect(head?.combinedHeader("x-a") == "1, 2")
        #expect(String(buffer: bytes) == "body")
        var garbage = ByteBuffer(string: "SSH-2.0-OpenSSH\r\n\r\n")
        #expect(throws: HTTPRefusal.self) { try HTTPResponseHead.read(from: &garbage) }
    }

    @Test func theInflaterReadsRFC7692sExamplesWithAFreshContextPerMessage() throws {
        let inflater = try PerMessageInflater()
        func inflate(_ bytes: [UInt8]) throws -> String { String(buffer: try inflater.inflate(ByteBuffer(bytes: bytes))) }
        // Section 7.2.3.1: "Hello" compressed, the 00 00 FF FF tail removed.
        let hello: [UInt8] = [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]
        #expect(try inflate(hello) == "Hello")
        // No context carried over: the same bytes read the same again (with takeover, 7.2.3.2's second message
        // would refer back into the first).
        #expect(try inflate(hello) == "Hello")
        // 7.2.3.3 a stored block, 7.2.3.4 BFINAL set, 7.2.3.5 two blocks in one message, 7.2.3.6 an empty message.
        #expect(try inflate([0x00, 0x05, 0x00, 0xFA, 0xFF, 0x48, 0x65, 0x6C, 0x6C, 0x6F, 0x00]) == "Hello")
        #expect(try inflate([0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00]) == "Hello")
        #expect(try inflate([0xF2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xCA, 0xC9, 0xC9, 0x07, 0x00]) == "Hello")
        #expect(try inflate([0x00]) == "")
        #expect(throws: PerMessageInflater.InflateError.self) { try inflate([0xFF, 0xFF, 0xFF, 0xFF]) }
        // A broken message leaves nothing behind for the next.
        #expect(try inflate(hello) == "Hello")
    }

    @Test func theInflaterGrowsItsOutputForAMessageLargerThanItsBuffer() throws {
        // 200 KB that compress well, the way a server compresses one message: raw deflate, sync flush, tail dropped.
        let text = (0..<20_000).map { "m\($0 % 97)," }.joined()
        let compressor = try ZlibCompressor(algorithm: .deflate)
        var input = ByteBuffer(string: text)
        var compressed = ByteBuffer()
        compressed.reserveCapacity(compressor.maxSize(from: input))
        try compressor.deflate(from: &input, to: &compressed, flush: .sync)
        #expect(compressed.getBytes(at: compressed.writerIndex - 4, length: 4) == PerMessageInflater.tail)
        compressed.moveWriterIndex(to: compressed.writerIndex - 4)
        #expect(String(buffer: try PerMessageInflater().inflate(compressed)) == text)
    }

    @Test func aDeflateOfferNeedsTheServersAgreementWithoutContextTakeover() throws {
        var head = ByteBuffer(
            string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n\r\n")
        let agreed = try HTTPResponseHead.read(from: &head)
        #expect(agreed?.status == 101)
        #expect(BenchDeflate.refusal(ofResponseExtensions: agreed?.combinedHeader("sec-websocket-extensions")) == nil)
        var plain = ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
        #expect(
            BenchDeflate.refusal(ofResponseExtensions: try HTTPResponseHead.read(from: &plain)?.combinedHeader("sec-websocket-extensions")) != nil)
        #expect(BenchDeflate.refusal(ofResponseExtensions: "permessage-deflate") != nil)
        #expect(
            TargetProtocol(target: .switchboard, host: "h", port: 1, apiKey: "").webSocketRequest(channel: "c", deflate: true)
                .contains("\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"))
    }

    @Test func publishingOverWebSocketIsRefusedForNchanWithTheReason() throws {
        var options = BenchOptions()
        options.target = .nchan
        options.publishOver = .webSocket
        #expect {
            try options.validated()
        } throws: { error in
            "\(error)".contains("--publish-over websocket needs --target switchboard")
        }
        options.target = .switchboard
        options.mode = .echo
        #expect(throws: BenchOptionError.self) { try options.validated() }
        options.mode = .fanOut
        #expect(try options.validated().publishOver == .webSocket)
    }

    @Test func aPublishReplyIsMatchedByItsCommandID() {
        #expect(WebSocketPublisherHandler.leadingNumber(in: #"{"id":17,"result":{"epoch":"e","offset":3}}"#, after: #"{"id":"#) == 17)
        let refusal = #"{"id":4,"error":{"code":128,"name":"rate_limited","reason":"slow down"}}"#
        #expect(WebSocketPublisherHandler.leadingNumber(in: refusal, after: #""code":"#) == 128)
        #expect(WebSocketPublisherHandler.leadingNumber(in: #"{"push":"ping"}"#, after: #"{"id":"#) == nil)
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

    @Test func aWebSocketPublisherReachesEverySubscriberOnceAndInOrder() async throws {
        // The publisher is one client connection: the hub must allow its command and publish rate (TestServer lifts
        // these limits already; said here because the run depends on it).
        let report = try await run(server: {
            $0.limits.commandsPerSecond = 0
            $0.limits.publishesPerSecondPerUser = 0
        }) {
            $0.publishOver = .webSocket
            $0.apiKey = ""  // publishes as an anonymous client, not with the API key
            $0.webSocketSubscribers = 60
            $0.sseSubscribers = 20
            $0.channels = 2
            $0.publishRate = 50
            $0.duration = 2
        }
        #expect(report.publisher == "websocket")
        #expect(report.humanTable.contains("WebSocket publish commands on one connection"))
        #expect(report.established == 80 && report.failed == 0)
        #expect(report.publicationsSent == 100)
        #expect(report.publicationsAccepted == 100)
        #expect(report.publicationsRefused == 0 && report.publicationsUnanswered == 0)
        #expect(report.expectedDeliveries == 80 * 50)
        #expect(report.latencyMillis.samples == UInt64(report.delivered))
        expectNothingMissing(report)
    }

    @Test func rateLimitedWebSocketPublicationsCountAsRefusedWithAWarning() async throws {
        let warnings = NIOLockedValueBox<[String]>([])
        // 10 commands per second (burst 20) against 30 publications in one second: the burst's 20 are accepted, then
        // about two in three are refused — some 4 strikes net, far from the 20 that close the connection.
        let report = try await run(
            server: {
                $0.limits.commandsPerSecond = 10
                $0.limits.publishesPerSecondPerUser = 0
            },
            warning: { line in warnings.withLockedValue { $0.append(line) } }
        ) {
            $0.publishOver = .webSocket
            $0.webSocketSubscribers = 20
            $0.channels = 2
            $0.publishRate = 30
            $0.duration = 1
        }
        #expect(report.publicationsSent == 30)
        #expect(report.publicationsRefused > 0 && report.publicationsAccepted > 0)
        #expect(report.publicationsAccepted + report.publicationsRefused == 30)
        #expect(report.publicationsUnanswered == 0)
        // Every accepted publication reached its channel's subscribers (the refused ones leave gaps in the sequence
        // numbers, which the tally counts as lost: it expects sequences 0..<accepted).
        #expect(report.delivered == report.expectedDeliveries)
        #expect(report.expectedDeliveries == 10 * report.publicationsAccepted)
        let lines = warnings.withLockedValue { $0 }
        #expect(lines.count == 1)
        #expect(lines.first?.contains("SWITCHBOARD_LIMITS_COMMANDS_PER_SECOND=0") == true)
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

    @Test func deflateSubscribersInflateEveryCompressedPublicationOnce() async throws {
        let report = try await run {
            $0.webSocketSubscribers = 40
            $0.deflate = true
            $0.payloadBytes = 512  // above the server's websocket.compression_min_bytes (256)
            $0.publishRate = 50
            $0.duration = 2
        }
        #expect(report.deflate)
        #expect(report.established == 40 && report.failed == 0)
        #expect(report.expectedDeliveries == 40 * 100)
        // Every publication (one per frame, over the server's threshold) arrived compressed; the subscribe replies not.
        #expect(report.webSocketFrames.compressed > 0)
        #expect(report.webSocketFrames.compressed == report.delivered)
        #expect(report.webSocketFrames.inflatedBytes > report.webSocketFrames.compressedBytes)
        expectNothingMissing(report)
    }

    @Test func aServerThatDeclinesDeflateFailsEverySubscriberWithTheReason() async throws {
        let report = try await run(server: { $0.webSocket.compression = false }) {
            $0.webSocketSubscribers = 20
            $0.deflate = true
            $0.publishRate = 10
            $0.duration = 0.5
        }
        #expect(report.established == 0 && report.failed == 20)
        #expect(report.failureReasons == ["101 without permessage-deflate (--deflate asked for it)": 20])
    }

    private func expectNothingMissing(_ report: BenchReport, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(report.delivered == report.expectedDeliveries, sourceLocation: sourceLocation)
        #expect(report.lost == 0 && report.duplicated == 0 && report.outOfOrder == 0, sourceLocation: sourceLocation)
        #expect(report.closedEarly == 0, sourceLocation: sourceLocation)
    }

    /// One bench run against a fresh in-process hub; the drain is generous because a CI machine may be busy.
    private func run(
        server configureServer: (inout HubConfiguration) -> Void = { _ in }, warning: (@Sendable (String) -> Void)? = nil,
        _ configure: (inout BenchOptions) -> Void
    ) async throws -> BenchReport {
        let server = try await TestServer.start(configureServer)
        var options = BenchOptions()
        options.port = server.port
        options.apiKey = TestServer.apiKey
        options.progress = false
        options.settleSeconds = 0.2
        options.drainSeconds = 5
        configure(&options)
        let report = try await BenchRunner.run(options, progress: { _ in }, warning: warning)
        try await server.stop()
        return report
    }
}

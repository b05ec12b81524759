import Benchmark
import JWTKit
import NIOCore
import SwitchboardCore

// Micro benchmarks of the work the hub does per publication, per queued message, per command and per token.
// Every benchmark reports time and allocations; `instructions` comes from hardware counters and is left out of the
// table on machines without them (this VM: `perf stat -e instructions` is "not supported"), see docs/benchmarks.md.
// Each sample runs 1,000 operations (`scalingFactor: .kilo`) so the harness's own per-sample cost (a few mallocs, a
// clock read) does not hide the operation's; the table reports per operation.

let metrics: [BenchmarkMetric] = [.wallClock, .mallocCountTotal, .instructions, .throughput]

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: metrics, scalingFactor: .kilo, maxDuration: .seconds(2), maxIterations: 100_000)

    let channel = try! ChannelName(validating: "chat:lobby")
    let payload = ByteBuffer(string: #"{"seq":12345,"ts":1700000000123456789,"pad":"\#(String(repeating: "x", count: 80))"}"#)
    let publication = Publication(channel: channel, epoch: "k3F9aZ0q", offset: 12_345, data: payload)

    // MARK: publication encode — once per publication and wire format, shared by every subscriber

    Benchmark("encode.json-push") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(Pushes.publication(publication)) }
    }

    Benchmark("encode.sse-event") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(SSEEvent.publication(publication, positions: [publication.position]))
        }
    }

    Benchmark("encode.messagepack-push") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(Pushes.messagePackPublication(publication)) }
    }

    // MARK: history — append on every publish, recover on every resuming subscribe

    Benchmark("history.append (window of 1000)") { benchmark in
        var window = HistoryWindow(epoch: "k3F9aZ0q", capacity: 1_000, ttlNanoseconds: nil)
        let request = PublishRequest(channel: channel, data: payload)
        var now: UInt64 = 1
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            now += 1
            blackHole(window.append(request, now: now))
        }
    }

    Benchmark("history.recover 100 missed (window of 1000)") { benchmark in
        var window = HistoryWindow(epoch: "k3F9aZ0q", capacity: 1_000, ttlNanoseconds: nil)
        let request = PublishRequest(channel: channel, data: payload)
        for now in 1...1_000 { _ = window.append(request, now: UInt64(now)) }
        let since = StreamPosition(epoch: "k3F9aZ0q", offset: 900)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(window.recover(since: since, now: 2_000)) }
    }

    // MARK: outbound queue — every message to a subscriber passes through it

    Benchmark("queue.append+pop (untagged)") { benchmark in
        var queue = OutboundQueue<ByteBuffer>(maxBytes: 1 << 30, maxMessages: 1 << 20)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            _ = queue.append(payload, size: payload.readableBytes)
            blackHole(queue.popNext())
        }
    }

    Benchmark("queue.append+pop (channel tag, no key)") { benchmark in
        var queue = OutboundQueue<ByteBuffer>(maxBytes: 1 << 30, maxMessages: 1 << 20)
        let tag = QueueTag(channel: channel)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            _ = queue.append(payload, size: payload.readableBytes, tag: tag)
            blackHole(queue.popNext())
        }
    }

    Benchmark("queue.conflating append (16 keys) + drain every 64") { benchmark in
        var queue = OutboundQueue<ByteBuffer>(maxBytes: 1 << 30, maxMessages: 1 << 20)
        let tags = (0..<16).map { QueueTag(channel: channel, conflationKey: "key\($0)") }
        var index = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            _ = queue.append(payload, size: payload.readableBytes, tag: tags[index & 15])
            index += 1
            if index & 63 == 0 { while let next = queue.popNext() { blackHole(next) } }
        }
    }

    // MARK: command decode — every WebSocket frame and HTTP command

    let publishCommand = ByteBuffer(string: #"{"id":7,"cmd":"publish","channel":"chat:lobby","data":\#(String(buffer: payload))}"#)
    Benchmark("command.decode publish") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(CommandDecoder.decode(publishCommand)) }
    }

    let subscribeCommand = ByteBuffer(string: #"{"id":2,"cmd":"subscribe","channel":"news","since":{"epoch":"k3F9aZ0q","offset":40}}"#)
    Benchmark("command.decode subscribe with since") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(CommandDecoder.decode(subscribeCommand)) }
    }

    // MARK: token verify — every connect with a token (HS256 signature as the server checks it, then the claims)

    Benchmark("token.verify HS256 + claims") { benchmark in
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: "bench-hmac-secret-0123456789abcdef-0123456789"), digestAlgorithm: .sha256, kid: "hs256")
        let now = Int64(1_700_000_000)
        let token = try await keys.sign(BenchTokenPayload(sub: "alice", exp: now + 3_600, iat: now))
        let validator = TokenValidator()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let payload = try await keys.verify(token, as: BenchTokenPayload.self, iteratingKeys: true)
            blackHole(validator.connectionIdentity(TokenClaims(subject: payload.sub, expiresAt: payload.exp, issuedAt: payload.iat), now: now))
        }
    }
}

/// The claims of a typical connection token (the server's own payload type is internal to SwitchboardServer).
struct BenchTokenPayload: JWTPayload {
    var sub: String
    var exp: Int64
    var iat: Int64
    /// Time checks are TokenValidator's, with its own clock.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// An SSE publication event as the server frames it (`SSEFraming` in SwitchboardServer): an `id:` line with every
/// channel's position, then the JSON push on a `data:` line.
enum SSEEvent {
    static func publication(_ publication: Publication, positions: [StreamPosition?]) -> ByteBuffer {
        let push = Pushes.publication(publication)
        let id = SSEEventID.encode(positions)
        var buffer = ByteBuffer()
        buffer.reserveCapacity(push.readableBytes + id.utf8.count + 16)
        buffer.writeString("id: ")
        buffer.writeString(id)
        buffer.writeString("\ndata: ")
        buffer.writeImmutableBuffer(push)
        buffer.writeString("\n\n")
        return buffer
    }
}

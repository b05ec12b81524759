import Foundation
import NIOCore
import NIOPosix

/// The bench connections of this process: subscribers (or echo clients) spread over its own event loops, connected
/// at the ramp rate, counted on their loops and, in a reconnect storm, dropped and brought back.
final class LocalFleet: Fleet, @unchecked Sendable {
    let options: BenchOptions
    let channelNames: [String]
    private let group: MultiThreadedEventLoopGroup
    let stats: [LoopStats]
    let target: TargetProtocol
    let plan: [SubscriberTransport]
    private let sources: [SocketAddress]
    // Set and read by the runner's task only, between phases.
    private var phaseCPUStart = 0.0
    private var phaseStart = Date()

    init(options: BenchOptions) throws {
        self.options = options
        channelNames = Self.channelNames(options)
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.threads))
        let expectedSequences =
            switch options.mode {
            case .fanOut: options.publicationCount / max(1, options.channels) + 1
            case .echo: options.publicationCount / max(1, options.subscribers) + 1
            case .reconnectStorm: options.missedPublications + 1
            }
        stats = group.makeIterator().map { LoopStats(loop: $0, expectedSequences: expectedSequences) }
        target = TargetProtocol(target: options.target, host: options.host, port: options.port, apiKey: options.apiKey)
        plan = SubscriberTransport.plan(webSocket: options.webSocketSubscribers, sse: options.sseSubscribers, poll: options.pollSubscribers)
        sources = try options.sourceAddresses.map { try SocketAddress(ipAddress: $0, port: 0) }
    }

    /// Fan-out subscribers share the run's channels across workers; echo clients and storm channels belong to one
    /// worker (each worker publishes to its own).
    static func channelNames(_ options: BenchOptions) -> [String] {
        let base = "\(options.channelPrefix)-\(options.runID)"
        let worker = "w\(options.workerIndex ?? 0)"
        switch options.mode {
        case .fanOut: return (0..<max(1, options.channels)).map { "\(base)-\($0)" }
        case .echo: return (0..<options.subscribers).map { "\(base)-\(worker)-echo\($0)" }
        case .reconnectStorm: return (0..<max(1, options.channels)).map { "\(base)-\(worker)-\($0)" }
        }
    }

    private func channelIndex(ofSubscriber index: Int) -> Int {
        switch options.mode {
        case .fanOut: (options.firstSubscriberIndex + index) % channelNames.count
        case .echo: index
        case .reconnectStorm: index % channelNames.count
        }
    }

    // MARK: connecting

    func connect() async throws {
        let start = Date()
        let perBatch = max(1, options.connectRate / 100)
        let clock = ContinuousClock()
        let rampStart = clock.now
        var index = 0
        while index < options.subscribers {
            let batchEnd = min(options.subscribers, index + perBatch)
            for subscriber in index..<batchEnd {
                open(subscriber: subscriber, on: stats[subscriber % stats.count], tally: nil)
            }
            index = batchEnd
            try await Task.sleep(until: rampStart + .milliseconds(10 * (index / perBatch)), clock: clock)
        }
        var connected = try await snapshot()
        while connected.established + connected.failed < options.subscribers, Date().timeIntervalSince(start) < options.connectTimeout {
            if options.progress { progressLine("connecting", connected) }
            try await Task.sleep(for: .milliseconds(100))
            connected = try await snapshot()
        }
    }

    /// Opens subscriber `index`'s connection on `stats`' loop; `tally` is nil for a new subscriber, or the one a
    /// reconnecting subscriber keeps counting into (it then resumes from its last known position).
    func open(subscriber index: Int, on stat: LoopStats, tally existing: SubscriberTally?) {
        let channelIndex = existing?.channelIndex ?? channelIndex(ofSubscriber: index)
        let transport = plan[index]
        let name = channelNames[channelIndex]
        let target = self.target
        let options = self.options
        var bootstrap = ClientBootstrap(group: stat.loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            // NIO's default 10 s is shorter than a busy server's accept backlog takes to drain in a storm; a
            // connection that needs longer than the run's own connect timeout has failed.
            .connectTimeout(.milliseconds(Int64(options.connectTimeout * 1000)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tally = existing ?? stat.makeTally(channelIndex: channelIndex)
                    let handler: any ChannelHandler
                    switch transport {
                    case .webSocket:
                        let webSocket = WebSocketSubscriberHandler(
                            request: target.webSocketRequest(channel: name, deflate: options.deflate),
                            subscribeCommand: target.webSocketSubscribeCommand(channel: name, since: tally.sinceMember),
                            confirmedByMessage: target.subscribeIsConfirmedByMessage, deflate: options.deflate, stats: stat, tally: tally)
                        if options.mode == .echo { stat.echoClients.append(webSocket) }
                        handler = webSocket
                    case .sse:
                        handler = SSESubscriberHandler(
                            request: target.sseRequest(channel: name), confirmedByMessage: target.subscribeIsConfirmedByMessage,
                            stats: stat, tally: tally)
                    case .poll:
                        handler = PollSubscriberHandler(
                            host: "\(options.host):\(options.port)", subscribeCommand: target.subscribeCommand(channel: name),
                            stats: stat, tally: tally)
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                    let key = ObjectIdentifier(channel)
                    stat.channels[key] = channel
                    channel.closeFuture.whenComplete { _ in stat.channels[key] = nil }
                }
            }
        if !sources.isEmpty { bootstrap = bootstrap.bind(to: sources[(options.firstSubscriberIndex + index) % sources.count]) }
        bootstrap.connect(host: options.host, port: options.port).whenFailure { error in
            stat.loop.execute { stat.recordFailure("connect: \(error)") }
        }
    }

    // MARK: fan-out

    func progressSnapshot() async throws -> LoopSnapshot? { try await snapshot() }

    func publishingStarts() async throws { markPhaseStart() }

    func publishingEnded(accepted: [Int]) async throws -> FleetResult {
        try await drain { try await DeliveryTotals.collect(self.stats, accepted: accepted).isComplete }
        return try await result(accepted: accepted)
    }

    /// Waits while deliveries still progress (a saturated server can be seconds behind) until `complete` holds,
    /// `drainSeconds` pass with nothing new, or a minute passed: late is reported as latency, never-arrived as lost.
    func drain(until complete: @escaping () async throws -> Bool) async throws {
        let drainStart = Date()
        var lastProgress = Date()
        var seen = try await snapshot().deliveries
        while Date().timeIntervalSince(lastProgress) < options.drainSeconds, Date().timeIntervalSince(drainStart) < 60 {
            if try await complete() { return }
            try await Task.sleep(for: .milliseconds(20))
            let now = try await snapshot().deliveries
            if now != seen {
                seen = now
                lastProgress = Date()
            }
        }
    }

    // MARK: echo and reconnect storm

    func runOwnPhase() async throws -> FleetResult {
        switch options.mode {
        case .fanOut: return try await publishingEnded(accepted: Array(repeating: 0, count: channelNames.count))
        case .echo: return try await runEcho()
        case .reconnectStorm: return try await runStorm()
        }
    }

    // MARK: results

    func markPhaseStart() {
        phaseCPUStart = ProcessSample.ownCPUSeconds()
        phaseStart = Date()
    }

    /// Ends the run for every connection and adds up what the loops counted.
    func result(accepted: [Int]) async throws -> FleetResult {
        let cpu = ProcessSample.ownCPUSeconds() - phaseCPUStart
        let wall = max(Date().timeIntervalSince(phaseStart), 0.001)
        var result = FleetResult()
        var snapshots: [LoopSnapshot] = []
        for stat in stats {
            let part = try await stat.loop.submit {
                stat.closing = true
                var totals = DeliveryTotals()
                totals.add(stat.tallies, accepted: accepted)
                let own = stat.tallies.reduce((0, 0, 0)) {
                    ($0.0 + $1.publishedByItself, $0.1 + $1.ownPublicationsAccepted, $0.2 + $1.ownPublicationsRefused)
                }
                return (stat.snapshot(), totals, stat.lastDeliveryWallNanos, own, stat.recoveryMicros, stat.recovered)
            }.get()
            snapshots.append(part.0)
            result.totals.add(part.1)
            result.lastDeliveryWallNanos = max(result.lastDeliveryWallNanos, part.2)
            result.ownPublished += part.3.0
            result.ownAccepted += part.3.1
            result.ownRefused += part.3.2
            result.recoveryMicros.add(part.4)
            result.recovered += part.5
        }
        let merged = LoopSnapshot.merge(snapshots)
        result.established = merged.established
        result.failed = merged.failed
        result.failureReasons = merged.failureReasons
        result.closedEarly = merged.closedEarly
        result.deliveries = merged.deliveries
        result.latencyMicros = merged.latencyMicros
        result.frames = merged.frames
        result.benchCPUSeconds = cpu
        result.benchUtilisation = cpu / wall / Double(min(max(1, options.threads), ProcessSample.allowedCPUCount()))
        return result
    }

    func snapshot() async throws -> LoopSnapshot {
        var parts: [LoopSnapshot] = []
        for stat in stats { parts.append(try await stat.loop.submit { stat.snapshot() }.get()) }
        return LoopSnapshot.merge(parts)
    }

    func progressLine(_ phase: String, _ snapshot: LoopSnapshot) {
        FileHandle.standardError.write(
            Data(("\r\u{1B}[K" + ProgressLine.text(phase: phase, snapshot: snapshot, subscribers: options.subscribers)).utf8))
    }

    func shutdown() async {
        try? await group.shutdownGracefully()
    }
}

extension DeliveryTotals {
    /// Every expected delivery arrived (duplicates aside).
    var isComplete: Bool { delivered >= expected }
}

/// The one-line status printed while a run progresses.
enum ProgressLine {
    static func text(phase: String, snapshot: LoopSnapshot, subscribers: Int) -> String {
        let p99 = Double(snapshot.latencyMicros.valueAtPercentile(99)) / 1000
        return "\(phase) | subscribers \(snapshot.established)/\(subscribers) ok, \(snapshot.failed) failed, "
            + "\(snapshot.closedEarly) dropped | \(snapshot.deliveries) deliveries | p99 \(String(format: "%.2f", p99)) ms"
    }
}

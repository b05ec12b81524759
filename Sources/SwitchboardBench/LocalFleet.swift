import Foundation
import NIOCore
import NIOPosix

/// The bench connections of this process: subscribers (or echo clients) spread over its own event loops, connected
/// at the ramp rate, counted on their loops and, in a reconnect storm, dropped and brought back.
final class LocalFleet: Fleet, @unchecked Sendable {
    let options: BenchOptions
    let channelNames: [String]
    private let group: MultiThreadedEventLoopGroup
    private let stats: [LoopStats]
    private let target: TargetProtocol
    private let plan: [SubscriberTransport]
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
    private func open(subscriber index: Int, on stat: LoopStats, tally existing: SubscriberTally?) {
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
                            request: target.webSocketRequest(channel: name),
                            subscribeCommand: target.webSocketSubscribeCommand(channel: name, since: tally.sinceMember),
                            confirmedByMessage: target.subscribeIsConfirmedByMessage, stats: stat, tally: tally)
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
    private func drain(until complete: @escaping () async throws -> Bool) async throws {
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

    /// Every echo client publishes to its own channel on one open-loop schedule per event loop (the fleet's rate
    /// split by the loop's share of clients), one flush per client per tick.
    private func runEcho() async throws -> FleetResult {
        markPhaseStart()
        let total = max(1, options.subscribers)
        var schedules: [EventLoopFuture<Void>] = []
        for stat in stats {
            let names = channelNames
            let options = self.options
            let target = self.target
            schedules.append(
                stat.loop.flatSubmit {
                    let clients = stat.echoClients
                    guard !clients.isEmpty else { return stat.loop.makeSucceededVoidFuture() }
                    let count = options.publicationCount * clients.count / total
                    let rate = Double(options.publishRate) * Double(clients.count) / Double(total)
                    return EchoSchedule(loop: stat.loop, clients: clients, count: count, rate: rate) { client in
                        let sequence = client.tally.publishedByItself
                        let data = PayloadStamp.data(sequence: sequence, timestamp: WallClock.nanoseconds(), size: options.payloadBytes)
                        return target.publishCommand(id: sequence + 2, channel: names[client.tally.channelIndex], data: data)
                    }.run()
                })
        }
        for schedule in schedules { try await schedule.get() }
        try await drain {
            let (published, answered, delivered, accepted) = try await self.echoCounts()
            return answered >= published && delivered >= accepted
        }
        return try await result(accepted: Array(repeating: 0, count: channelNames.count))
    }

    private func echoCounts() async throws -> (published: Int, answered: Int, delivered: Int, accepted: Int) {
        var counts = (0, 0, 0, 0)
        for stat in stats {
            let part = try await stat.loop.submit {
                stat.tallies.reduce((0, 0, 0, 0)) {
                    (
                        $0.0 + $1.publishedByItself, $0.1 + $1.ownPublicationsAccepted + $1.ownPublicationsRefused, $0.2 + $1.delivered,
                        $0.3 + $1.ownPublicationsAccepted
                    )
                }
            }.get()
            counts = (counts.0 + part.0, counts.1 + part.1, counts.2 + part.2, counts.3 + part.3)
        }
        return counts
    }

    /// Drops every subscriber at once, publishes `missedPublications` per channel through the HTTP API while they
    /// are away, then reconnects them all at once, each resuming from the position of its subscribe reply.
    private func runStorm() async throws -> FleetResult {
        // Drop: every connection closed on purpose, so none counts as closed early.
        for stat in stats {
            try await stat.loop.submit {
                stat.closing = true
                for channel in stat.channels.values { channel.close(promise: nil) }
            }.get()
        }
        let dropDeadline = Date().addingTimeInterval(10)
        while try await openConnections() > 0, Date() < dropDeadline { try await Task.sleep(for: .milliseconds(20)) }

        let publisher = Publisher(
            loop: stats[0].loop, options: options, publicationCount: options.missedPublications * channelNames.count,
            rate: options.publishRate, protocolOf: target, channelNames: channelNames)
        try await stats[0].loop.flatSubmit { publisher.connect(count: 1) }.get()
        try await stats[0].loop.flatSubmit { publisher.run() }.get()
        let answerDeadline = Date().addingTimeInterval(60)
        while try await stats[0].loop.submit({ publisher.outstanding }).get() > 0, Date() < answerDeadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let (accepted, published, refused) = try await stats[0].loop.submit {
            publisher.close()
            return (publisher.accepted, publisher.publicationsSent, publisher.refused)
        }.get()

        // Reconnect: everyone at once, no ramp; a resumed subscription's missed publications follow its reply.
        markPhaseStart()
        var reconnecting = 0
        var subscriber = 0
        for stat in stats {
            reconnecting += try await stat.loop.submit {
                stat.closing = false
                stat.established = 0
                stat.recoveryStartUptime = NIODeadline.now().uptimeNanoseconds
                var count = 0
                for tally in stat.tallies where tally.subscribed {
                    tally.subscribed = false
                    tally.recoveryTarget = accepted[tally.channelIndex]
                    count += 1
                }
                return count
            }.get()
        }
        for stat in stats {
            let tallies = try await stat.loop.submit { stat.tallies.filter { $0.recoveryTarget != nil } }.get()
            for tally in tallies {
                open(subscriber: subscriber % plan.count, on: stat, tally: tally)
                subscriber += 1
            }
        }
        let recoverDeadline = Date().addingTimeInterval(options.connectTimeout + 60)
        while Date() < recoverDeadline {
            let (recovered, failed, resets) = try await stormProgress()
            if options.progress { progressLine("recovering: \(recovered)/\(reconnecting) recovered, \(resets) reset", try await snapshot()) }
            if recovered + failed + resets >= reconnecting { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        // Anything arriving after full recovery would be a duplicate: give it the drain time to show up.
        try await Task.sleep(for: .seconds(min(options.drainSeconds, 2)))
        var result = try await result(accepted: accepted)
        let (recovered, _, resets) = try await stormProgress()
        result.resets = resets
        result.missedPerChannel = accepted
        result.ownPublished = published
        result.ownAccepted = accepted.reduce(0, +)
        result.ownRefused = refused
        if recovered == reconnecting {
            var slowest: UInt64 = 0
            var start: UInt64 = 0
            for stat in stats {
                let (latest, began) = try await stat.loop.submit {
                    (stat.tallies.compactMap(\.recoveredAtUptime).max() ?? 0, stat.recoveryStartUptime)
                }.get()
                slowest = max(slowest, latest)
                start = start == 0 ? began : min(start, began)
            }
            result.allRecoveredSeconds = Double(slowest > start ? slowest - start : 0) / 1e9
        }
        return result
    }

    private func openConnections() async throws -> Int {
        var open = 0
        for stat in stats { open += try await stat.loop.submit { stat.channels.count }.get() }
        return open
    }

    private func stormProgress() async throws -> (recovered: Int, failed: Int, resets: Int) {
        var progress = (0, 0, 0)
        for stat in stats {
            let part = try await stat.loop.submit {
                (stat.recovered, stat.failed + stat.closedEarly, stat.tallies.filter { $0.subscribed && $0.wasReset }.count)
            }.get()
            progress = (progress.0 + part.0, progress.1 + part.1, progress.2 + part.2)
        }
        return progress
    }

    // MARK: results

    private func markPhaseStart() {
        phaseCPUStart = ProcessSample.ownCPUSeconds()
        phaseStart = Date()
    }

    /// Ends the run for every connection and adds up what the loops counted.
    private func result(accepted: [Int]) async throws -> FleetResult {
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
        result.benchCPUSeconds = cpu
        result.benchUtilisation = cpu / wall / Double(min(max(1, options.threads), ProcessSample.allowedCPUCount()))
        return result
    }

    func snapshot() async throws -> LoopSnapshot {
        var parts: [LoopSnapshot] = []
        for stat in stats { parts.append(try await stat.loop.submit { stat.snapshot() }.get()) }
        return LoopSnapshot.merge(parts)
    }

    private func progressLine(_ phase: String, _ snapshot: LoopSnapshot) {
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

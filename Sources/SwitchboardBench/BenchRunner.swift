import Foundation
import Histogram
import NIOCore
import NIOPosix

/// Runs one bench: connect the subscribers at the ramp rate, publish on schedule, drain, and report.
public enum BenchRunner {
    /// Runs the bench described by `options`; `progress` receives a one-line status about once a second.
    public static func run(_ options: BenchOptions, progress: @escaping @Sendable (String) -> Void) async throws -> BenchReport {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.threads))
        do {
            let report = try await run(options, on: group, progress: progress)
            try await group.shutdownGracefully()
            return report
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func run(
        _ options: BenchOptions, on group: MultiThreadedEventLoopGroup, progress: @escaping @Sendable (String) -> Void
    ) async throws -> BenchReport {
        let loops = Array(group.makeIterator())
        let expectedSequences = options.publicationCount / max(1, options.channels) + 1
        let stats = loops.map { LoopStats(loop: $0, expectedSequences: expectedSequences) }
        let runID = String(UInt64.random(in: 0..<UInt64.max), radix: 36)
        let channelNames = (0..<max(1, options.channels)).map { "\(options.channelPrefix)-\(runID)-\($0)" }
        let target = TargetProtocol(target: options.target, host: options.host, port: options.port, apiKey: options.apiKey)

        let serverBefore = options.serverPID.flatMap(ProcessSample.of(pid:))
        let connectStart = Date()
        try await rampUp(options: options, target: target, stats: stats, channelNames: channelNames)
        var connected = try await snapshot(stats)
        while connected.established + connected.failed < options.subscribers,
            Date().timeIntervalSince(connectStart) < options.connectTimeout
        {
            if options.progress { progress(progressLine(phase: "connecting", snapshot: connected, options: options)) }
            try await Task.sleep(for: .milliseconds(250))
            connected = try await snapshot(stats)
        }
        let connectSeconds = Date().timeIntervalSince(connectStart)
        try await Task.sleep(for: .seconds(options.settleSeconds))
        let serverConnected = options.serverPID.flatMap(ProcessSample.of(pid:))

        let publisher = Publisher(loop: loops[0], options: options, protocolOf: target, channelNames: channelNames)
        try await loops[0].flatSubmit { publisher.connect(count: 1) }.get()
        let deliveriesBefore = try await snapshot(stats).deliveries
        let serverPublishStart = options.serverPID.flatMap(ProcessSample.of(pid:))
        let benchCPUStart = ProcessSample.ownCPUSeconds()
        let publishStart = Date()
        let reporter = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(1))
                let now = try await snapshot(stats)
                let sent = try await loops[0].submit { publisher.publicationsSent }.get()
                if options.progress {
                    progress(progressLine(phase: "publishing \(sent)/\(options.publicationCount)", snapshot: now, options: options))
                }
            }
        }
        try await loops[0].flatSubmit { publisher.run() }.get()
        let drainStart = Date()
        var lastDelivery = Date()
        var deliveredSoFar = try await snapshot(stats).deliveries
        // Wait while deliveries still progress (a saturated server can be seconds behind), until drainSeconds pass
        // with nothing new, and never longer than a minute: late is reported as latency, never-arrived as lost.
        while Date().timeIntervalSince(lastDelivery) < options.drainSeconds, Date().timeIntervalSince(drainStart) < 60 {
            let accepted = try await loops[0].submit { publisher.accepted }.get()
            let outstanding = try await loops[0].submit { publisher.outstanding }.get()
            let totals = try await DeliveryTotals.collect(stats, accepted: accepted)
            let now = try await snapshot(stats).deliveries
            if now != deliveredSoFar { lastDelivery = Date() }
            deliveredSoFar = now
            if outstanding == 0 && totals.delivered >= totals.expected { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let publishSeconds = lastDelivery.timeIntervalSince(publishStart)
        let benchCPU = ProcessSample.ownCPUSeconds() - benchCPUStart
        let serverPublishEnd = options.serverPID.flatMap(ProcessSample.of(pid:))
        reporter.cancel()

        for stat in stats { try await stat.loop.submit { stat.closing = true }.get() }
        let final = try await snapshot(stats)
        let (accepted, sent, refused, unanswered) = try await loops[0].submit {
            (publisher.accepted, publisher.publicationsSent, publisher.refused, publisher.unanswered + publisher.outstanding + publisher.sendErrors)
        }.get()
        let totals = try await DeliveryTotals.collect(stats, accepted: accepted)
        try await loops[0].submit { publisher.close() }.get()
        if options.progress { progress("") }

        let usableCPUs = Double(min(max(1, options.threads), ProcessSample.allowedCPUCount()))
        let utilisation = benchCPU / max(publishSeconds, 0.001) / usableCPUs
        let deliveries = final.deliveries - deliveriesBefore
        var server: BenchReport.Server?
        if let pid = options.serverPID, let serverBefore, let serverConnected, let serverPublishStart, let serverPublishEnd {
            let cpu = serverPublishEnd.cpuSeconds - serverPublishStart.cpuSeconds
            server = BenchReport.Server(
                pid: pid, beforeConnecting: serverBefore, afterConnecting: serverConnected, publishStart: serverPublishStart,
                publishEnd: serverPublishEnd,
                bytesPerConnection: Double(serverConnected.residentBytes - serverBefore.residentBytes) / Double(max(1, final.established)),
                publishCPUSeconds: cpu, cpuMicrosPerDelivery: cpu * 1e6 / Double(max(1, deliveries)))
        }
        let histogram = final.latencyMicros
        func millis(_ percentile: Double) -> Double { Double(histogram.valueAtPercentile(percentile)) / 1000 }
        let saturated = utilisation > 0.9
        return BenchReport(
            target: options.target.rawValue, webSocketSubscribers: options.webSocketSubscribers,
            sseSubscribers: options.sseSubscribers, channels: channelNames.count, payloadBytes: options.payloadBytes,
            publishRate: options.publishRate, durationSeconds: options.duration, connectSeconds: connectSeconds,
            established: final.established, failed: final.failed, failureReasons: final.failureReasons,
            closedEarly: final.closedEarly, publicationsSent: sent, publicationsAccepted: accepted.reduce(0, +),
            publicationsRefused: refused, publicationsUnanswered: unanswered, expectedDeliveries: totals.expected,
            delivered: totals.delivered, lost: totals.lost, duplicated: totals.duplicated, outOfOrder: totals.outOfOrder,
            subscribersWithLoss: totals.subscribersWithLoss,
            deliveriesPerSecond: Double(deliveries) / max(publishSeconds, 0.001),
            latencyMillis: .init(
                samples: histogram.totalCount, p50: millis(50), p90: millis(90), p99: millis(99), p999: millis(99.9),
                max: Double(histogram.max) / 1000),
            server: server, benchCPUSeconds: benchCPU, benchCPUUtilisation: utilisation, valid: !saturated,
            invalidReason: saturated
                ? "the bench used \(Int(utilisation * 100)) % of its CPU: add --threads or CPUs, or lower the load" : nil)
    }

    /// All loops' counters, each read on its own loop.
    private static func snapshot(_ stats: [LoopStats]) async throws -> LoopSnapshot {
        var parts: [LoopSnapshot] = []
        for stat in stats { parts.append(try await stat.loop.submit { stat.snapshot() }.get()) }
        return LoopSnapshot.merge(parts)
    }

    /// Opens every subscriber, `connectRate` per second in 10 ms batches, round-robin over loops and source addresses.
    private static func rampUp(options: BenchOptions, target: TargetProtocol, stats: [LoopStats], channelNames: [String]) async throws {
        let perBatch = max(1, options.connectRate / 100)
        let sources = try options.sourceAddresses.map { try SocketAddress(ipAddress: $0, port: 0) }
        let start = ContinuousClock.now
        var index = 0
        while index < options.subscribers {
            let batchEnd = min(options.subscribers, index + perBatch)
            for subscriber in index..<batchEnd {
                let stat = stats[subscriber % stats.count]
                let channelIndex = subscriber % channelNames.count
                let useWebSocket = isWebSocket(subscriber, options: options)
                var bootstrap = ClientBootstrap(group: stat.loop)
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            let tally = stat.makeTally(channelIndex: channelIndex)
                            let name = channelNames[channelIndex]
                            let handler: any ChannelHandler =
                                useWebSocket
                                ? WebSocketSubscriberHandler(
                                    request: target.webSocketRequest(channel: name),
                                    subscribeCommand: target.webSocketSubscribeCommand(channel: name),
                                    confirmedByMessage: target.subscribeIsConfirmedByMessage, stats: stat, tally: tally)
                                : SSESubscriberHandler(
                                    request: target.sseRequest(channel: name),
                                    confirmedByMessage: target.subscribeIsConfirmedByMessage, stats: stat, tally: tally)
                            try channel.pipeline.syncOperations.addHandler(handler)
                        }
                    }
                if !sources.isEmpty { bootstrap = bootstrap.bind(to: sources[subscriber % sources.count]) }
                bootstrap.connect(host: options.host, port: options.port).whenFailure { error in
                    stat.loop.execute { stat.recordFailure("connect: \(error)") }
                }
            }
            index = batchEnd
            let batches = index / perBatch
            try await Task.sleep(until: start + .milliseconds(10 * batches), clock: .continuous)
        }
    }

    /// Spreads the SSE subscribers evenly among the WebSocket ones, so a mix shares channels and loops alike.
    private static func isWebSocket(_ subscriber: Int, options: BenchOptions) -> Bool {
        guard options.sseSubscribers > 0 else { return true }
        guard options.webSocketSubscribers > 0 else { return false }
        let total = options.subscribers
        return (subscriber * options.webSocketSubscribers) / total != ((subscriber + 1) * options.webSocketSubscribers) / total
    }

    private static func progressLine(phase: String, snapshot: LoopSnapshot, options: BenchOptions) -> String {
        let p99 = Double(snapshot.latencyMicros.valueAtPercentile(99)) / 1000
        return "\(phase) | subscribers \(snapshot.established)/\(options.subscribers) ok, \(snapshot.failed) failed, "
            + "\(snapshot.closedEarly) dropped | \(snapshot.deliveries) deliveries | p99 \(String(format: "%.2f", p99)) ms"
    }
}

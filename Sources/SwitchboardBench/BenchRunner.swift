import Foundation
import Histogram
import NIOCore
import NIOPosix

/// Runs one bench: connect the subscribers (here or in worker processes), run the mode's measured phase, report.
public enum BenchRunner {
    /// Runs the bench described by `options`; `progress` receives a one-line status about once a second, `warning` a
    /// line about something the user should fix (a rate limit refusing publications: standard error by default).
    public static func run(
        _ options: BenchOptions, progress: @escaping @Sendable (String) -> Void,
        warning: (@Sendable (String) -> Void)? = nil
    ) async throws -> BenchReport {
        let warning = warning ?? { Publisher.standardErrorWarning($0) }
        let options = try options.validated()
        let fleets: [any Fleet] =
            options.workers > 1
            ? try (0..<options.workers).map { try WorkerFleet(options: options, index: $0, of: options.workers) }
            : [try LocalFleet(options: options)]
        do {
            let report = try await run(options, fleets: fleets, progress: progress, warning: warning)
            for fleet in fleets { await fleet.shutdown() }
            return report
        } catch {
            for fleet in fleets { await fleet.shutdown() }
            throw error
        }
    }

    private static func run(
        _ options: BenchOptions, fleets: [any Fleet], progress: @escaping @Sendable (String) -> Void, warning: @escaping @Sendable (String) -> Void
    ) async throws -> BenchReport {
        let server = ServerSampler(pid: options.serverPID)
        server.sample(.beforeConnecting)
        let connectStart = Date()
        try await forEach(fleets) { try await $0.connect() }
        let connectSeconds = Date().timeIntervalSince(connectStart)
        try await Task.sleep(for: .seconds(options.settleSeconds))
        server.sample(.afterConnecting)

        var publisherStats = PublisherStats()
        let phaseStart = Date()
        let results: [FleetResult]
        switch options.mode {
        case .fanOut:
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            do {
                results = try await publish(
                    options, fleets: fleets, on: group.next(), server: server, stats: &publisherStats, progress: progress, warning: warning)
                try await group.shutdownGracefully()
            } catch {
                try? await group.shutdownGracefully()
                throw error
            }
        case .echo, .reconnectStorm:
            server.sample(.publishStart)
            results = try await fleets.concurrentMap { try await $0.runOwnPhase() }
        }
        server.sample(.publishEnd)
        if options.progress { progress("") }
        return BenchReport(
            options: options, fleet: FleetResult.merge(results), publisher: publisherStats, connectSeconds: connectSeconds,
            phaseStart: phaseStart,
            server: server.report(deliveries: results.reduce(0) { $0 + $1.deliveries }, established: results.reduce(0) { $0 + $1.established }))
    }

    /// Fan-out: publishes on schedule from its own event loop while the fleets count, then lets them drain.
    private static func publish(
        _ options: BenchOptions, fleets: [any Fleet], on loop: any EventLoop, server: ServerSampler, stats publisherStats: inout PublisherStats,
        progress: @escaping @Sendable (String) -> Void, warning: @escaping @Sendable (String) -> Void
    ) async throws -> [FleetResult] {
        let publisher = Publisher(
            loop: loop, options: options, publicationCount: options.publicationCount, rate: options.publishRate,
            protocolOf: TargetProtocol(target: options.target, host: options.host, port: options.port, apiKey: options.apiKey),
            channelNames: LocalFleet.channelNames(options), over: options.publishOver, warning: warning)
        try await loop.flatSubmit { publisher.connect(count: 1) }.get()
        try await forEach(fleets) { try await $0.publishingStarts() }
        server.sample(.publishStart)
        let reporter = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(1))
                let sent = try await loop.submit { publisher.publicationsSent }.get()
                let snapshots = try await fleets.asyncMap { try await $0.progressSnapshot() }.compactMap { $0 }
                if options.progress {
                    progress(
                        snapshots.isEmpty
                            ? "publishing \(sent)/\(options.publicationCount) (\(fleets.count) workers)"
                            : ProgressLine.text(
                                phase: "publishing \(sent)/\(options.publicationCount)", snapshot: LoopSnapshot.merge(snapshots),
                                subscribers: options.subscribers))
                }
            }
        }
        // The reporter submits to the publisher's loop: it must have stopped before the caller shuts that loop down.
        func stopReporter() async {
            reporter.cancel()
            _ = await reporter.result
        }
        do {
            try await loop.flatSubmit { publisher.run() }.get()
            // Every publication answered (HTTP response or WebSocket reply) before the fleets stop waiting: a publication accepted late still counts as
            // expected, and its deliveries must be given the drain time (else a whole channel shows one "lost").
            let answerDeadline = Date().addingTimeInterval(60)
            while try await loop.submit({ publisher.outstanding }).get() > 0, Date() < answerDeadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            publisherStats = try await loop.submit {
                PublisherStats(
                    accepted: publisher.accepted, sent: publisher.publicationsSent, refused: publisher.refused,
                    unanswered: publisher.unanswered + publisher.outstanding + publisher.sendErrors)
            }.get()
            let accepted = publisherStats.accepted
            let results = try await fleets.concurrentMap { try await $0.publishingEnded(accepted: accepted) }
            try await loop.submit { publisher.close() }.get()
            await stopReporter()
            return results
        } catch {
            await stopReporter()
            throw error
        }
    }

    private static func forEach(_ fleets: [any Fleet], _ body: @escaping @Sendable (any Fleet) async throws -> Void) async throws {
        _ = try await fleets.concurrentMap { try await body($0) }
    }
}

/// What the fan-out publisher counted.
struct PublisherStats: Sendable {
    var accepted: [Int] = []
    var sent = 0
    var refused = 0
    var unanswered = 0
}

extension Array where Element == any Fleet {
    /// Runs `body` on every fleet at once (workers connect and drain in parallel), results in fleet order.
    func concurrentMap<T: Sendable>(_ body: @escaping @Sendable (any Fleet) async throws -> T) async throws -> [T] {
        try await withThrowingTaskGroup(of: (Int, T).self) { group in
            for (index, fleet) in enumerated() { group.addTask { (index, try await body(fleet)) } }
            var results: [(Int, T)] = []
            for try await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    func asyncMap<T>(_ body: (any Fleet) async throws -> T) async throws -> [T] {
        var results: [T] = []
        for fleet in self { results.append(try await body(fleet)) }
        return results
    }
}

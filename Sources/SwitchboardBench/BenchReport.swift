import Foundation
import Histogram

/// The result of one run, as printed by `--json` and summarised by `humanTable`.
public struct BenchReport: Sendable, Codable {
    public struct Latency: Sendable, Codable {
        public var samples: UInt64
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var p999: Double
        public var max: Double

        init(_ histogram: Histogram<UInt64>) {
            func millis(_ percentile: Double) -> Double { Double(histogram.valueAtPercentile(percentile)) / 1000 }
            samples = histogram.totalCount
            p50 = millis(50)
            p90 = millis(90)
            p99 = millis(99)
            p999 = millis(99.9)
            max = Double(histogram.max) / 1000
        }
    }

    public struct Server: Sendable, Codable {
        public var pid: Int32
        public var beforeConnecting: ProcessSample
        public var afterConnecting: ProcessSample
        public var publishStart: ProcessSample
        public var publishEnd: ProcessSample
        /// RSS growth from connecting, divided by established connections.
        public var bytesPerConnection: Double
        /// Server CPU seconds during the publish phase (drain included).
        public var publishCPUSeconds: Double
        /// Server CPU microseconds per delivered message.
        public var cpuMicrosPerDelivery: Double
    }

    /// Echo mode: the clients' own publications (`sent` by them, `accepted`/`refused` by the hub).
    public struct Echo: Sendable, Codable {
        public var sent: Int
        public var accepted: Int
        public var refused: Int
    }

    /// Reconnect storm: the reconnected subscribers, and how and how fast they recovered what they missed.
    public struct Storm: Sendable, Codable {
        public var missedPublicationsPerChannel: Int
        public var reconnected: Int
        public var recovered: Int
        /// Subscribers answered `recovered: false` (a reset) instead of their missed publications.
        public var resets: Int
        /// From the reconnect until the last subscriber had every missed publication; nil when not all recovered.
        public var allRecoveredSeconds: Double?
        /// Per subscriber, from the reconnect until its last missed publication arrived.
        public var recoveryMillis: Latency
    }

    public var target: String
    public var mode: String
    public var workers: Int
    public var webSocketSubscribers: Int
    /// The WebSocket subscribers offered (and were agreed) permessage-deflate (`--deflate`).
    public var deflate: Bool
    /// WebSocket data frames the subscribers received, compressed and not (a `--deflate` run shows here that the
    /// server did compress).
    public var webSocketFrames: WebSocketFrameCounts
    public var sseSubscribers: Int
    public var pollSubscribers: Int
    public var channels: Int
    public var payloadBytes: Int
    public var publishRate: Int
    public var durationSeconds: Double
    public var connectSeconds: Double
    public var established: Int
    public var failed: Int
    public var failureReasons: [String: Int]
    public var closedEarly: Int
    /// How the publications were made: `http` (`POST /api/publish`) or `websocket` (`publish` commands; echo clients
    /// always publish so).
    public var publisher: String
    public var publicationsSent: Int
    public var publicationsAccepted: Int
    public var publicationsRefused: Int
    public var publicationsUnanswered: Int
    public var expectedDeliveries: Int
    public var delivered: Int
    public var lost: Int
    public var duplicated: Int
    public var outOfOrder: Int
    public var subscribersWithLoss: Int
    public var deliveriesPerSecond: Double
    /// Delivery latency in milliseconds (receive wall clock minus the timestamp in the payload).
    public var latencyMillis: Latency
    public var echo: Echo?
    public var storm: Storm?
    public var server: Server?
    public var benchCPUSeconds: Double
    /// Bench CPU seconds per wall second during the publish phase, over the CPUs it could use.
    public var benchCPUUtilisation: Double
    /// False when the bench saturated its CPU (then latency and throughput measure the bench, not the server).
    public var valid: Bool
    public var invalidReason: String?

    /// The report as an aligned, readable table.
    public var humanTable: String {
        var rows: [(String, String)] = [
            (
                "target",
                "\(target), \(mode)  (\(webSocketSubscribers) WebSocket + \(sseSubscribers) SSE + \(pollSubscribers) long-poll on \(channels) channel(s)\(workers > 1 ? ", \(workers) worker processes" : ""))"
            ),
            (
                "load",
                storm.map {
                    "\($0.missedPublicationsPerChannel) per channel while away, published at \(publishRate)/s, \(payloadBytes)-byte payloads"
                }
                    ?? "\(publishRate)/s for \(format(durationSeconds)) s, \(payloadBytes)-byte payloads"
            ),
            (
                "connections",
                "\(established) established, \(failed) failed, \(closedEarly) dropped during the run (\(format(connectSeconds)) s to connect)"
            ),
            ("publisher", publisherText),
            (
                "publications",
                "\(publicationsSent) sent, \(publicationsAccepted) accepted, \(publicationsRefused) refused, \(publicationsUnanswered) unanswered"
            ),
            (
                "deliveries",
                "\(delivered) of \(expectedDeliveries) expected: \(lost) lost, \(duplicated) duplicated, \(outOfOrder) out of order (\(subscribersWithLoss) subscribers with loss)"
            ),
            ("throughput", "\(format(deliveriesPerSecond)) deliveries/s"),
            (
                "latency ms",
                "p50 \(format(latencyMillis.p50))  p90 \(format(latencyMillis.p90))  p99 \(format(latencyMillis.p99))  p99.9 \(format(latencyMillis.p999))  max \(format(latencyMillis.max))"
            ),
        ]
        if webSocketSubscribers > 0 {
            let frames = webSocketFrames
            var text = "permessage-deflate \(deflate ? "on" : "off"): \(frames.compressed) compressed frames, \(frames.uncompressed) uncompressed"
            if frames.compressed > 0 {
                let ratio = Double(frames.inflatedBytes) / Double(max(1, frames.compressedBytes))
                text += " (compressed payloads \(frames.compressedBytes) B on the wire, \(frames.inflatedBytes) B inflated, \(format(ratio))×)"
            }
            rows.append(("ws frames", text))
        }
        if let echo {
            rows.append(("echo", "\(echo.sent) published by the clients, \(echo.accepted) accepted, \(echo.refused) refused"))
        }
        if let storm {
            let all = storm.allRecoveredSeconds.map { "all recovered after \(format($0)) s" } ?? "NOT all recovered"
            rows.append(
                (
                    "storm",
                    "\(storm.reconnected) reconnected, \(storm.recovered) recovered \(storm.missedPublicationsPerChannel) missed each, \(storm.resets) reset; \(all)"
                ))
            let times = storm.recoveryMillis
            rows.append(("recovery ms", "p50 \(format(times.p50))  p90 \(format(times.p90))  p99 \(format(times.p99))  max \(format(times.max))"))
        }
        if let server {
            rows.append(
                ("server CPU", "\(format(server.publishCPUSeconds)) s while publishing = \(format(server.cpuMicrosPerDelivery)) µs per delivery"))
            rows.append(
                (
                    "server RSS",
                    "\(server.beforeConnecting.residentBytes / 1024) KiB idle → \(server.afterConnecting.residentBytes / 1024) KiB connected = \(format(server.bytesPerConnection)) B per connection"
                ))
        }
        rows.append(("bench CPU", "\(format(benchCPUSeconds)) s, \(format(benchCPUUtilisation * 100)) % of its CPUs while publishing"))
        rows.append(("valid", valid ? "yes" : "NO — \(invalidReason ?? "")"))
        if !failureReasons.isEmpty {
            rows.append(
                ("failures", failureReasons.sorted { $0.value > $1.value }.prefix(3).map { "\($0.value)× \($0.key)" }.joined(separator: "; ")))
        }
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }

    private var publisherText: String {
        if publisher == BenchOptions.PublishOver.webSocket.rawValue {
            return mode == BenchOptions.Mode.echo.rawValue
                ? "WebSocket publish commands, each client on its own connection" : "WebSocket publish commands on one connection"
        }
        return target == BenchOptions.Target.nchan.rawValue ? "HTTP (POST /pub/CHANNEL)" : "HTTP API (POST /api/publish)"
    }

    init(
        options: BenchOptions, fleet: FleetResult, publisher: PublisherStats, connectSeconds: Double, phaseStart: Date, server: Server?
    ) {
        let phaseStartNanos = UInt64(phaseStart.timeIntervalSince1970 * 1e9)
        let phaseSeconds =
            fleet.lastDeliveryWallNanos > phaseStartNanos
            ? Double(fleet.lastDeliveryWallNanos - phaseStartNanos) / 1e9 : Date().timeIntervalSince(phaseStart)
        let saturated = fleet.benchUtilisation > 0.9
        target = options.target.rawValue
        mode = options.mode.rawValue
        workers = options.workers
        webSocketSubscribers = options.webSocketSubscribers
        deflate = options.deflate
        webSocketFrames = fleet.frames
        sseSubscribers = options.sseSubscribers
        pollSubscribers = options.pollSubscribers
        channels = options.mode == .echo ? options.subscribers : max(1, options.channels)
        payloadBytes = options.payloadBytes
        publishRate = options.publishRate
        durationSeconds = options.duration
        self.connectSeconds = connectSeconds
        established = fleet.established
        failed = fleet.failed
        failureReasons = fleet.failureReasons
        closedEarly = fleet.closedEarly
        let publishedByFleets = options.mode != .fanOut
        self.publisher =
            switch options.mode {
            case .fanOut: options.publishOver.rawValue
            case .echo: BenchOptions.PublishOver.webSocket.rawValue
            case .reconnectStorm: BenchOptions.PublishOver.http.rawValue
            }
        publicationsSent = publishedByFleets ? fleet.ownPublished : publisher.sent
        publicationsAccepted = publishedByFleets ? fleet.ownAccepted : publisher.accepted.reduce(0, +)
        publicationsRefused = publishedByFleets ? fleet.ownRefused : publisher.refused
        publicationsUnanswered = publishedByFleets ? fleet.ownPublished - fleet.ownAccepted - fleet.ownRefused : publisher.unanswered
        expectedDeliveries = fleet.totals.expected
        delivered = fleet.totals.delivered
        lost = fleet.totals.lost
        duplicated = fleet.totals.duplicated
        outOfOrder = fleet.totals.outOfOrder
        subscribersWithLoss = fleet.totals.subscribersWithLoss
        deliveriesPerSecond = Double(fleet.deliveries) / max(phaseSeconds, 0.001)
        latencyMillis = Latency(fleet.latencyMicros)
        echo = options.mode == .echo ? Echo(sent: fleet.ownPublished, accepted: fleet.ownAccepted, refused: fleet.ownRefused) : nil
        storm =
            options.mode == .reconnectStorm
            ? Storm(
                missedPublicationsPerChannel: options.missedPublications, reconnected: fleet.established + fleet.failed,
                recovered: fleet.recovered, resets: fleet.resets, allRecoveredSeconds: fleet.allRecoveredSeconds,
                recoveryMillis: Latency(fleet.recoveryMicros)) : nil
        self.server = server
        benchCPUSeconds = fleet.benchCPUSeconds
        benchCPUUtilisation = fleet.benchUtilisation
        valid = !saturated
        invalidReason =
            saturated
            ? "the bench used \(Int(fleet.benchUtilisation * 100)) % of its CPU: add --threads, --workers or CPUs, or lower the load" : nil
    }

    /// The report as pretty JSON.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}

private func format(_ value: Double) -> String {
    if value >= 100 { return String(format: "%.0f", value) }
    if value >= 10 { return String(format: "%.1f", value) }
    return String(format: "%.2f", value)
}

import Foundation

/// The result of one run, as printed by `--json` and summarised by `humanTable`.
public struct BenchReport: Sendable, Codable {
    public struct Latency: Sendable, Codable {
        public var samples: UInt64
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var p999: Double
        public var max: Double
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

    public var target: String
    public var webSocketSubscribers: Int
    public var sseSubscribers: Int
    public var channels: Int
    public var payloadBytes: Int
    public var publishRate: Int
    public var durationSeconds: Double
    public var connectSeconds: Double
    public var established: Int
    public var failed: Int
    public var failureReasons: [String: Int]
    public var closedEarly: Int
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
            ("target", "\(target)  (\(webSocketSubscribers) WebSocket + \(sseSubscribers) SSE on \(channels) channel(s))"),
            ("load", "\(publishRate)/s for \(format(durationSeconds)) s, \(payloadBytes)-byte payloads"),
            (
                "connections",
                "\(established) established, \(failed) failed, \(closedEarly) dropped during the run (\(format(connectSeconds)) s to connect)"
            ),
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

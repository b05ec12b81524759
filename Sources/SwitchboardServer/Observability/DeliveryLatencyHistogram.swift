import NIOConcurrencyHelpers

/// How many deliveries a publication got on one loop tick, per transport: counted in the delivery loop with no lock
/// and no clock read, and turned into latency observations once per tick (``LoopHub``).
struct DeliveriesByTransport {
    private var counts = (0, 0, 0, 0, 0, 0)

    var isEmpty: Bool { counts == (0, 0, 0, 0, 0, 0) }

    mutating func add(_ kind: TransportKind) {
        switch kind.index {
        case 0: counts.0 += 1
        case 1: counts.1 += 1
        case 2: counts.2 += 1
        case 3: counts.3 += 1
        case 4: counts.4 += 1
        default: counts.5 += 1
        }
    }

    subscript(_ index: Int) -> Int {
        switch index {
        case 0: counts.0
        case 1: counts.1
        case 2: counts.2
        case 3: counts.3
        case 4: counts.4
        default: counts.5
        }
    }
}

/// A Prometheus histogram of delivery latency per transport that takes many observations of one value at once.
///
/// Every subscriber of a publication on one loop is written in the same tick and flushed at its end, so they share
/// one latency: the loop records it once with a count per transport instead of once per delivery. swift-prometheus's
/// `Histogram` records one observation per call under a lock, which at thousands of subscribers would put a lock per
/// delivery on the fan-out path; this one takes its lock once per loop tick.
///
/// Long-poll deliveries are not measured: a poll session's flush only hands messages to its outbox, and they leave
/// with the client's next poll, which the server does not control.
final class DeliveryLatencyHistogram: Sendable {
    /// Upper bounds in nanoseconds: 50 µs to 5 s.
    static let bucketBounds: [UInt64] = [
        50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000, 100_000_000,
        250_000_000, 500_000_000, 1_000_000_000, 2_500_000_000, 5_000_000_000,
    ]

    private struct Series {
        /// Observations per bucket (not cumulative; summed at exposition), the last one for above every bound.
        var buckets = [UInt64](repeating: 0, count: DeliveryLatencyHistogram.bucketBounds.count + 1)
        var sumNanoseconds: UInt64 = 0
        var count: UInt64 = 0
    }

    private let name: String
    private let help: String
    private let series = NIOLockedValueBox([Series](repeating: Series(), count: TransportKind.allCases.count))

    init(name: String, help: String) {
        self.name = name
        self.help = help
    }

    /// One entry per publication delivered in a tick: its latency and how many deliveries it had per transport.
    func record(_ observations: [(latencyNanoseconds: UInt64, deliveries: DeliveriesByTransport)]) {
        series.withLockedValue { series in
            for observation in observations {
                let bucket = Self.bucketIndex(observation.latencyNanoseconds)
                for index in 0..<series.count {
                    let count = UInt64(observation.deliveries[index])
                    guard count > 0 else { continue }
                    series[index].buckets[bucket] += count
                    series[index].count += count
                    series[index].sumNanoseconds &+= observation.latencyNanoseconds &* count
                }
            }
        }
    }

    static func bucketIndex(_ nanoseconds: UInt64) -> Int {
        bucketBounds.firstIndex { nanoseconds <= $0 } ?? bucketBounds.count
    }

    /// Appends the family in the text exposition format: cumulative `_bucket` lines with `le` in seconds, `_sum`, `_count`.
    func emit(into buffer: inout [UInt8]) {
        let snapshot = series.withLockedValue { $0 }
        var text = "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for kind in TransportKind.allCases where kind != .poll {
            let series = snapshot[kind.index]
            let label = "transport=\"\(kind.rawValue)\""
            var cumulative: UInt64 = 0
            for (index, bound) in Self.bucketBounds.enumerated() {
                cumulative += series.buckets[index]
                text += "\(name)_bucket{\(label),le=\"\(Self.seconds(bound))\"} \(cumulative)\n"
            }
            text += "\(name)_bucket{\(label),le=\"+Inf\"} \(series.count)\n"
            text += "\(name)_sum{\(label)} \(Self.seconds(series.sumNanoseconds))\n"
            text += "\(name)_count{\(label)} \(series.count)\n"
        }
        buffer.append(contentsOf: text.utf8)
    }

    private static func seconds(_ nanoseconds: UInt64) -> String {
        String(Double(nanoseconds) / 1e9)
    }
}

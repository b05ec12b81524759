import Histogram

/// What one fleet of bench connections (this process, or one worker process) measured; workers send it to the
/// coordinator as JSON, which adds them up: counts summed, histograms merged.
struct FleetResult: Sendable, Codable {
    var established = 0
    var failed = 0
    var failureReasons: [String: Int] = [:]
    var closedEarly = 0
    var deliveries = 0
    var totals = DeliveryTotals()
    var latencyMicros = Histogram<UInt64>.forBench()
    /// Wall-clock time of the last delivery, to time the publish phase across processes.
    var lastDeliveryWallNanos: UInt64 = 0
    /// CPU this fleet's process used during the measured phase, and that CPU over the phase's wall time and the
    /// CPUs the process may use (1.0 = saturated).
    var benchCPUSeconds = 0.0
    var benchUtilisation = 0.0
    /// Echo mode: publications the clients sent, and how the hub answered them (reconnect storm: the publications
    /// made while the subscribers were away).
    var ownPublished = 0
    var ownAccepted = 0
    var ownRefused = 0
    /// Reconnect storm: per-subscriber recovery time, how many recovered fully, how many got a reset instead, and
    /// the time from the reconnect until the last one recovered (nil when not all did).
    var recoveryMicros = Histogram<UInt64>.forBench()
    var recovered = 0
    var resets = 0
    var allRecoveredSeconds: Double?
    var missedPerChannel: [Int] = []
    /// WebSocket data frames received, compressed (`--deflate`) and not.
    var frames = WebSocketFrameCounts()

    static func merge(_ parts: [FleetResult]) -> FleetResult {
        var total = FleetResult()
        for part in parts {
            total.established += part.established
            total.failed += part.failed
            total.failureReasons.merge(part.failureReasons, uniquingKeysWith: +)
            total.closedEarly += part.closedEarly
            total.deliveries += part.deliveries
            total.totals.add(part.totals)
            total.latencyMicros.add(part.latencyMicros)
            total.lastDeliveryWallNanos = max(total.lastDeliveryWallNanos, part.lastDeliveryWallNanos)
            total.benchCPUSeconds += part.benchCPUSeconds
            total.benchUtilisation = max(total.benchUtilisation, part.benchUtilisation)
            total.ownPublished += part.ownPublished
            total.ownAccepted += part.ownAccepted
            total.ownRefused += part.ownRefused
            total.recoveryMicros.add(part.recoveryMicros)
            total.recovered += part.recovered
            total.resets += part.resets
            total.missedPerChannel += part.missedPerChannel
            total.frames.add(part.frames)
        }
        // All recovered only if every part did; then the slowest part decides.
        let times = parts.map(\.allRecoveredSeconds)
        total.allRecoveredSeconds = times.contains(nil) ? nil : times.compactMap { $0 }.max()
        return total
    }
}

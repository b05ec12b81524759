import Histogram
import NIOCore

/// Counters and the latency histogram of the subscribers on one event loop.
///
/// Only touched on `loop` (handlers run there; the runner reads it through `loop.submit`), so the hot path takes no
/// lock and no atomic; that confinement is why the type may be `@unchecked Sendable`.
final class LoopStats: @unchecked Sendable {
    let loop: any EventLoop
    let expectedSequences: Int
    var latencyMicros = Histogram<UInt64>.forBench()
    /// Reconnect storm: per subscriber, time from the reconnect until its last missed publication arrived.
    var recoveryMicros = Histogram<UInt64>.forBench()
    var tallies: [SubscriberTally] = []
    /// Open subscriber connections, so a reconnect storm can drop them all at once.
    var channels: [ObjectIdentifier: any Channel] = [:]
    /// Echo clients on this loop, in the order their publications are scheduled.
    var echoClients: [WebSocketSubscriberHandler] = []
    var deliveries = 0
    var lastDeliveryWallNanos: UInt64 = 0
    var established = 0
    var failed = 0
    var closedEarly = 0
    var recovered = 0
    /// Monotonic time the reconnect storm's reconnect began.
    var recoveryStartUptime: UInt64 = 0
    /// Set when the runner ends the run (or drops connections on purpose): closes from then on are not early.
    var closing = false
    var failureReasons: [String: Int] = [:]
    /// WebSocket data frames received on this loop, compressed and not.
    var frames = WebSocketFrameCounts()
    /// `--deflate`: the loop's inflater, made on the first compressed message and reset after each.
    private var sharedInflater: PerMessageInflater?

    init(loop: any EventLoop, expectedSequences: Int) {
        self.loop = loop
        self.expectedSequences = expectedSequences
    }

    /// A new subscriber on this loop; its tally is kept for the final report.
    func makeTally(channelIndex: Int) -> SubscriberTally {
        let tally = SubscriberTally(channelIndex: channelIndex, expectedSequences: expectedSequences)
        tallies.append(tally)
        return tally
    }

    @inline(__always)
    func recordDelivery(_ stamp: (sequence: Int, timestamp: UInt64), tally: SubscriberTally, now: UInt64) {
        deliveries += 1
        lastDeliveryWallNanos = now
        tally.record(sequence: stamp.sequence)
        let micros = now > stamp.timestamp ? (now - stamp.timestamp) / 1_000 : 0
        _ = latencyMicros.record(max(micros, 1))
        if let target = tally.recoveryTarget, tally.recoveredAtUptime == nil, tally.delivered >= target {
            noteRecovered(tally)
        }
    }

    /// The subscriber has every publication it missed.
    func noteRecovered(_ tally: SubscriberTally) {
        let now = NIODeadline.now().uptimeNanoseconds
        tally.recoveredAtUptime = now
        recovered += 1
        _ = recoveryMicros.record(max(1, (now - recoveryStartUptime) / 1_000))
    }

    func markEstablished(_ tally: SubscriberTally) {
        tally.subscribed = true
        established += 1
        // A storm subscriber that missed nothing has recovered as soon as its resume is confirmed.
        if let target = tally.recoveryTarget, tally.recoveredAtUptime == nil, tally.delivered >= target { noteRecovered(tally) }
    }

    /// The inflater the WebSocket subscribers of this loop share (the server takes over no context between messages).
    func inflater() throws -> PerMessageInflater {
        if let sharedInflater { return sharedInflater }
        let inflater = try PerMessageInflater(allocator: ByteBufferAllocator())
        sharedInflater = inflater
        return inflater
    }

    func recordFailure(_ reason: String) {
        failed += 1
        failureReasons[reason, default: 0] += 1
    }

    func closedEarlyUnlessClosing() {
        if !closing { closedEarly += 1 }
    }

    /// A copyable summary for the runner (taken on the loop).
    func snapshot() -> LoopSnapshot {
        LoopSnapshot(
            latencyMicros: latencyMicros, deliveries: deliveries, established: established, failed: failed,
            closedEarly: closedEarly, failureReasons: failureReasons, frames: frames)
    }
}

extension Histogram<UInt64> {
    /// 1 µs to 2 minutes at three significant digits: every latency the bench can meet.
    static func forBench() -> Histogram<UInt64> {
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    }
}

/// A point-in-time copy of one loop's counters.
struct LoopSnapshot: Sendable {
    var latencyMicros: Histogram<UInt64>
    var deliveries: Int
    var established: Int
    var failed: Int
    var closedEarly: Int
    var failureReasons: [String: Int]
    var frames: WebSocketFrameCounts

    /// All loops added together.
    static func merge(_ snapshots: [LoopSnapshot]) -> LoopSnapshot {
        var total = LoopSnapshot(
            latencyMicros: .forBench(), deliveries: 0, established: 0, failed: 0, closedEarly: 0, failureReasons: [:],
            frames: WebSocketFrameCounts())
        for snapshot in snapshots {
            total.latencyMicros.add(snapshot.latencyMicros)
            total.deliveries += snapshot.deliveries
            total.established += snapshot.established
            total.failed += snapshot.failed
            total.closedEarly += snapshot.closedEarly
            total.failureReasons.merge(snapshot.failureReasons, uniquingKeysWith: +)
            total.frames.add(snapshot.frames)
        }
        return total
    }
}

/// Where the bench's subscribers live: in this process (`LocalFleet`) or in a worker process (`WorkerFleet`). The
/// runner drives every fleet through the same phases and adds their results up.
protocol Fleet: Sendable {
    /// Opens every connection; returns when all are established or failed, or the connect timeout passed.
    func connect() async throws
    /// Counters so far, for the progress line (nil where they live in another process).
    func progressSnapshot() async throws -> LoopSnapshot?
    /// Fan-out: the publish phase begins now (the fleet starts charging its own CPU).
    func publishingStarts() async throws
    /// Fan-out: every publication was sent and answered, `accepted[c]` of them on channel c; waits for the late
    /// deliveries and counts.
    func publishingEnded(accepted: [Int]) async throws -> FleetResult
    /// Echo and reconnect storm: runs the mode's own phase (publishing included) and counts.
    func runOwnPhase() async throws -> FleetResult
    func shutdown() async
}

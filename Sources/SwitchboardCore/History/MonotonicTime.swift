/// Monotonic nanoseconds since the process first asked, for TTLs and heartbeat deadlines.
public enum MonotonicTime {
    private static let origin = ContinuousClock.now

    public static func nanoseconds() -> UInt64 {
        let start = origin  // initialised on first use: read it before taking `now`
        let elapsed = (ContinuousClock.now - start).components
        return UInt64(max(elapsed.seconds, 0)) * 1_000_000_000 + UInt64(max(elapsed.attoseconds, 0) / 1_000_000_000)
    }
}

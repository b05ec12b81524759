/// Counts failed attempts (wrong API keys) per client address in fixed windows, and shuts an address out for the rest
/// of its window once it reached the limit, so a key cannot be guessed at network speed.
///
/// While an address is shut out its requests are refused before the key is compared: answering a right key
/// differently would tell the guesser when it found one. The table is bounded: at `capacity` addresses, windows that
/// ended are forgotten first, then the oldest window.
///
/// Pure: time comes in as monotonic nanoseconds.
public struct FailureThrottle: Sendable {
    public enum Verdict: Equatable, Sendable {
        case allowed
        /// Refused without looking at the attempt; whole seconds until the address's window ends (at least 1).
        case shutOut(retryAfterSeconds: Int)
    }

    private struct Window: Sendable {
        var start: UInt64
        var failures: Int
    }

    /// Failures one address may have per window; 0 turns the throttle off.
    public let maxFailures: Int
    public let window: UInt64
    public let capacity: Int
    private var windows: [String: Window] = [:]

    /// - Parameters:
    ///   - maxFailures: failures per window before the address is shut out; 0 means no limit.
    ///   - window: window length in nanoseconds.
    ///   - capacity: most addresses remembered at once.
    public init(maxFailures: Int, window: UInt64 = 60_000_000_000, capacity: Int = 10_000) {
        precondition(maxFailures >= 0 && window > 0 && capacity > 0, "a throttle needs a window and room for one address")
        self.maxFailures = maxFailures
        self.window = window
        self.capacity = capacity
    }

    /// Addresses remembered right now.
    public var trackedCount: Int { windows.count }

    /// Whether `address` may try now.
    public func check(_ address: String, now: UInt64) -> Verdict {
        guard maxFailures > 0, let current = windows[address], now < current.start + window, current.failures >= maxFailures else {
            return .allowed
        }
        let remaining = current.start + window - now
        return .shutOut(retryAfterSeconds: max(1, Int((remaining + 999_999_999) / 1_000_000_000)))
    }

    /// An attempt from `address` failed.
    public mutating func recordFailure(_ address: String, now: UInt64) {
        guard maxFailures > 0 else { return }
        if var current = windows[address], now < current.start + window {
            current.failures += 1
            windows[address] = current
            return
        }
        if windows[address] == nil && windows.count >= capacity { makeRoom(now: now) }
        windows[address] = Window(start: now, failures: 1)
    }

    private mutating func makeRoom(now: UInt64) {
        let window = self.window
        windows = windows.filter { now < $0.value.start + window }
        if windows.count >= capacity, let oldest = windows.min(by: { $0.value.start < $1.value.start })?.key {
            windows[oldest] = nil
        }
    }
}

/// A token bucket: `rate` tokens per second up to `burst`. Pure: time is passed in (monotonic nanoseconds).
public struct TokenBucket: Sendable, Equatable {
    public let rate: Double
    public let burst: Double
    private var tokens: Double
    private var updatedAt: UInt64

    /// A full bucket at `now`.
    public init(rate: Double, burst: Double, now: UInt64) {
        precondition(rate > 0 && burst >= 1, "a bucket needs a positive rate and room for one token")
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updatedAt = now
    }

    /// Takes one token if there is one.
    public mutating func take(now: UInt64) -> Bool {
        if now > updatedAt {
            tokens = min(burst, tokens + Double(now - updatedAt) / 1_000_000_000 * rate)
            updatedAt = now
        }
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Whether the bucket has refilled completely by `now` (an idle key that can be forgotten).
    public func isFull(now: UInt64) -> Bool {
        tokens + Double(now > updatedAt ? now - updatedAt : 0) / 1_000_000_000 * rate >= burst
    }
}

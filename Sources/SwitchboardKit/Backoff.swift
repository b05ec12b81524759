extension Switchboard {
    /// Reconnect delays with full jitter: attempt *n* waits a uniformly random time in
    /// `[0, min(maximum, initial · factor^(n−1))]`, as the browser client does (docs/client.md).
    ///
    /// Full jitter spreads a crowd of clients that lost the same server over the whole window instead of bringing them
    /// back in waves.
    public struct Backoff: Sendable, Equatable {
        /// The upper bound of the first attempt's delay.
        public var initial: Duration
        /// The largest upper bound any attempt uses.
        public var maximum: Duration
        /// How much the upper bound grows per attempt.
        public var factor: Double

        /// - Parameters:
        ///   - initial: upper bound of the first delay (default 500 ms); must not be negative.
        ///   - maximum: largest upper bound (default 20 s); at least `initial`.
        ///   - factor: growth per attempt (default 2); at least 1.
        public init(initial: Duration = .milliseconds(500), maximum: Duration = .seconds(20), factor: Double = 2) {
            precondition(initial >= .zero, "initial must not be negative")
            precondition(maximum >= initial, "maximum must be at least initial")
            precondition(factor >= 1, "factor must be at least 1")
            self.initial = initial
            self.maximum = maximum
            self.factor = factor
        }

        /// The upper bound of attempt `attempt`'s delay (attempt 1 is the first retry).
        public func ceiling(attempt: Int) -> Duration {
            let initialSeconds = Self.seconds(initial)
            let maximumSeconds = Self.seconds(maximum)
            // Beyond 64 doublings the bound is the maximum anyway; capping the exponent keeps pow finite.
            let exponent = Double(min(max(attempt, 1) - 1, 64))
            let bound = min(maximumSeconds, initialSeconds * power(factor, exponent))
            return .nanoseconds(Int64(bound * 1e9))
        }

        /// A random delay for attempt `attempt`, uniform in `[0, ceiling(attempt:)]`.
        public func delay(attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
            let bound = ceiling(attempt: attempt)
            let nanoseconds = Self.nanoseconds(bound)
            guard nanoseconds > 0 else { return .zero }
            return .nanoseconds(Int64.random(in: 0...nanoseconds, using: &generator))
        }

        private static func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }

        private static func nanoseconds(_ duration: Duration) -> Int64 {
            duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        }
    }
}

// `pow` without Foundation: the growth is applied by repeated multiplication (the exponent is at most 64).
private func power(_ base: Double, _ exponent: Double) -> Double {
    var result = 1.0
    var remaining = Int(exponent)
    while remaining > 0 {
        result *= base
        remaining -= 1
        if result.isInfinite { break }
    }
    return result
}

import SwitchboardCore
import Testing

/// Wrong attempts per client address, under a hand-moved clock.
struct FailureThrottleTests {
    private let second: UInt64 = 1_000_000_000

    /// Should allow `maxFailures` failures in a window, then shut the address out until the window ends.
    @Test func anAddressIsShutOutForTheRestOfItsWindow() {
        var throttle = FailureThrottle(maxFailures: 3, window: 60 * second)
        for step in 0..<3 {
            #expect(throttle.check("10.0.0.1", now: UInt64(step) * second) == .allowed)
            throttle.recordFailure("10.0.0.1", now: UInt64(step) * second)
        }
        #expect(throttle.check("10.0.0.1", now: 3 * second) == .shutOut(retryAfterSeconds: 57))
        #expect(throttle.check("10.0.0.1", now: 60 * second - 1) == .shutOut(retryAfterSeconds: 1))
        #expect(throttle.check("10.0.0.1", now: 60 * second) == .allowed)
        #expect(throttle.check("10.0.0.2", now: 3 * second) == .allowed)
    }

    /// Should start a fresh window after the old one ended.
    @Test func failuresOfAnEndedWindowDoNotCount() {
        var throttle = FailureThrottle(maxFailures: 2, window: 10 * second)
        throttle.recordFailure("a", now: 0)
        throttle.recordFailure("a", now: 11 * second)
        #expect(throttle.check("a", now: 12 * second) == .allowed)
        throttle.recordFailure("a", now: 12 * second)
        #expect(throttle.check("a", now: 12 * second) == .shutOut(retryAfterSeconds: 9))
    }

    /// Should never remember more addresses than its capacity, forgetting ended windows first.
    @Test func theTableIsBounded() {
        var throttle = FailureThrottle(maxFailures: 1, window: 10 * second, capacity: 100)
        for address in 0..<1000 { throttle.recordFailure("10.0.\(address)", now: UInt64(address)) }
        #expect(throttle.trackedCount == 100)
        // The newest address is still remembered.
        #expect(throttle.check("10.0.999", now: 1000) != .allowed)
        throttle.recordFailure("late", now: 20 * second)
        #expect(throttle.trackedCount == 1)
    }

    /// Should do nothing when off.
    @Test func zeroMeansNoLimit() {
        var throttle = FailureThrottle(maxFailures: 0)
        for _ in 0..<100 { throttle.recordFailure("a", now: 0) }
        #expect(throttle.check("a", now: 0) == .allowed)
        #expect(throttle.trackedCount == 0)
    }
}

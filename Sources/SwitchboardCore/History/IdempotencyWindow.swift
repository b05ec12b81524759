import NIOCore

/// Remembers which publish idempotency keys a channel has seen recently, so a client retrying a publish after an
/// ambiguous failure (the reply was lost with the connection) gets the original publication instead of a second one.
///
/// Bounded twice: keys are forgotten after `retention` and beyond `capacity` keys the oldest go first. Pure: time
/// comes in as `now` (monotonic nanoseconds).
public struct IdempotencyWindow: Sendable {
    public let retentionNanoseconds: UInt64
    public let capacity: Int

    private var publications: [String: Publication] = [:]
    /// Keys in the order they were first seen, with when, for expiry and eviction.
    /// Starts without storage: most channels never see an idempotency key.
    private var order = CircularBuffer<(key: String, seenAt: UInt64)>(initialCapacity: 1)

    public init(retentionNanoseconds: UInt64, capacity: Int) {
        self.retentionNanoseconds = retentionNanoseconds
        self.capacity = max(capacity, 0)
    }

    public var isEnabled: Bool { retentionNanoseconds > 0 && capacity > 0 }
    public var count: Int { publications.count }

    /// The publication already made with `key`, if it is still remembered.
    public mutating func publication(forKey key: String, now: UInt64) -> Publication? {
        expire(now: now)
        return publications[key]
    }

    /// Whether no key is remembered any more at `now`.
    public mutating func isEmpty(now: UInt64) -> Bool {
        expire(now: now)
        return publications.isEmpty
    }

    public mutating func remember(_ publication: Publication, key: String, now: UInt64) {
        guard isEnabled, publications[key] == nil else { return }
        if publications.count == capacity, let oldest = order.popFirst() { publications[oldest.key] = nil }
        publications[key] = publication
        order.append((key, now))
    }

    private mutating func expire(now: UInt64) {
        while let first = order.first, now >= first.seenAt, now - first.seenAt > retentionNanoseconds {
            order.removeFirst()
            publications[first.key] = nil
        }
    }
}

/// Caps one subscription at `maxRate` pushes per second.
///
/// A publication that arrives while the subscription must wait is held: a newer one with the same conflation key
/// replaces the held one (the subscriber gets the latest value, never falls behind), and publications without a key
/// wait together and go out at once when the next slot opens (one burst counts as one push). Pure: time comes in as
/// `now` (monotonic nanoseconds), so the rate is tested exactly without waiting.
public struct SubscriptionPacer<Item> {
    public enum Decision: Equatable {
        /// Send it now.
        case send
        /// Held; the caller arranges a `release` at this time (if it has not already).
        case held(releaseAt: UInt64)
    }

    public let intervalNanoseconds: UInt64
    public let maxHeld: Int
    private var nextSlot: UInt64 = 0
    private var held: [(item: Item, key: String?)] = []
    /// Whether a held item was replaced since the last release, so that release must announce a skip.
    private var replacedSinceRelease = false
    public private(set) var replacedCount = 0

    /// - Parameters:
    ///   - maxRate: pushes per second, at least 1.
    ///   - maxHeld: held publications without a key at most; beyond it `offer` reports an overflow.
    public init(maxRate: Int, maxHeld: Int = 4096) {
        precondition(maxRate >= 1, "max rate must be positive")
        self.intervalNanoseconds = 1_000_000_000 / UInt64(maxRate)
        self.maxHeld = maxHeld
    }

    public var isHolding: Bool { !held.isEmpty }

    /// Takes a publication; nil when it had to be held but the holding area is full (the caller treats the
    /// subscriber as a slow consumer).
    public mutating func offer(_ item: Item, key: String?, now: UInt64) -> Decision? {
        if held.isEmpty && now >= nextSlot {
            nextSlot = now + intervalNanoseconds
            return .send
        }
        if let key, let index = held.firstIndex(where: { $0.key == key }) {
            // Appended rather than replaced in place: offsets stay increasing within the channel.
            held.remove(at: index)
            replacedSinceRelease = true
            replacedCount += 1
        } else if held.count >= maxHeld {
            return nil
        }
        held.append((item, key))
        return .held(releaseAt: nextSlot)
    }

    /// The held publications once their slot has come (in arrival order), and whether some were skipped on purpose;
    /// nil when it is too early or nothing is held.
    public mutating func release(now: UInt64) -> (items: [Item], skipped: Bool)? {
        guard !held.isEmpty, now >= nextSlot else { return nil }
        let items = held.map(\.item)
        held.removeAll(keepingCapacity: true)
        nextSlot = now + intervalNanoseconds
        defer { replacedSinceRelease = false }
        return (items, replacedSinceRelease)
    }

    /// When the held publications may go, if any are held.
    public var releaseTime: UInt64? { held.isEmpty ? nil : nextSlot }
}

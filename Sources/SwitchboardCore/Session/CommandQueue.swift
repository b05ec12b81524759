import NIOCore

/// A session's commands waiting their turn, run one engine call at a time so replies (and publish offsets) follow
/// command order; with the flood counters that decide when a client has misbehaved long enough to be cut off.
///
/// Pure: the session asks ``next()`` for what to run and reports when an engine call ends; time comes in as `now`.
public struct CommandQueue<Work> {
    /// Commands queued behind a pending engine call before further ones are refused.
    public let capacity: Int
    /// Made when a command has to wait and dropped when the last one is taken: most sessions queue a command only
    /// while their first subscriptions are recovered, and an idle connection should cost no allocation for it (a
    /// session's `Work` is ~150 bytes, so even four slots cost ~600 bytes per connection).
    private var waiting: CircularBuffer<Work>?
    public private(set) var isAwaitingEngine = false

    public init(capacity: Int) {
        precondition(capacity > 0, "a command queue holds at least one command")
        self.capacity = capacity
    }

    public var count: Int { waiting?.count ?? 0 }

    /// False when `capacity` commands already wait (nothing was queued).
    public mutating func enqueue(_ work: Work) -> Bool {
        guard count < capacity else { return false }
        if waiting == nil { waiting = CircularBuffer(initialCapacity: 4) }
        waiting!.append(work)
        return true
    }

    /// The next command to run now; nil while an engine call is outstanding or when nothing waits.
    public mutating func next() -> Work? {
        guard !isAwaitingEngine, let work = waiting?.popFirst() else { return nil }
        if waiting?.isEmpty == true { waiting = nil }
        return work
    }

    /// Whether the queue holds storage for waiting commands (none once it is drained).
    public var holdsStorage: Bool { waiting != nil }

    /// The command just taken calls the engine: nothing else runs until ``engineCallFinished()``.
    public mutating func engineCallStarted() {
        isAwaitingEngine = true
    }

    public mutating func engineCallFinished() {
        isAwaitingEngine = false
    }

    public mutating func removeAll() {
        waiting = nil
    }
}

/// How a session's inbound commands are judged: a per-connection rate, and how many bad ones in a row are tolerated.
public struct CommandDiscipline: Sendable {
    public enum Verdict: Equatable, Sendable {
        case accept
        /// Refuse this command; `disconnect` when the client kept going past the tolerance.
        case refuse(disconnect: Bool)
    }

    /// Consecutive undecodable commands tolerated before the connection is closed.
    public static let maxConsecutiveMalformed = 16
    /// Strikes tolerated before the connection is closed: each command over the rate adds one, each command
    /// within it takes one away. A client that pauses recovers; one that keeps sending at several times the rate is
    /// closed even though the refill lets an occasional command through (a plain "in a row" count would reset on
    /// it and never close a client flooding at, say, twenty times the rate on a slow reader).
    public static let maxRateLimitStrikes = 20

    private var budget: TokenBucket?
    private var malformedInARow = 0
    private var rateLimitStrikes = 0

    /// - Parameter commandsPerSecond: 0 for no rate limit.
    public init(commandsPerSecond: Int, now: UInt64) {
        if commandsPerSecond > 0 {
            budget = TokenBucket(rate: Double(commandsPerSecond), burst: Double(commandsPerSecond * 2), now: now)
        }
    }

    /// Spends one command of the rate budget.
    public mutating func admit(now: UInt64) -> Verdict {
        if budget?.take(now: now) == false {
            rateLimitStrikes += 1
            return .refuse(disconnect: rateLimitStrikes == Self.maxRateLimitStrikes)
        }
        rateLimitStrikes = max(0, rateLimitStrikes - 1)
        return .accept
    }

    /// A command could not be decoded.
    public mutating func malformed() -> Verdict {
        malformedInARow += 1
        return .refuse(disconnect: malformedInARow >= Self.maxConsecutiveMalformed)
    }

    /// A command decoded: the malformed streak ends.
    public mutating func wellFormed() {
        malformedInARow = 0
    }
}

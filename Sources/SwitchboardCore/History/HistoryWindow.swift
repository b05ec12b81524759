import NIOCore

/// A channel's stream: assigns positions and keeps a bounded window of recent publications for recovery.
///
/// Pure logic: time comes in as `now` (monotonic nanoseconds) so that TTL expiry is tested without waiting.
public struct HistoryWindow: Sendable {
    public let epoch: String
    /// Offset of the newest publication (0 before the first).
    public private(set) var topOffset: UInt64 = 0
    public let capacity: Int
    public let ttlNanoseconds: UInt64?

    private var entries: CircularBuffer<Entry>
    private var idempotency: IdempotencyWindow

    private struct Entry: Sendable {
        var publication: Publication
        var publishedAt: UInt64
    }

    /// - Parameters:
    ///   - capacity: publications kept (0 keeps none: recovery then works only when nothing was missed).
    ///   - ttlNanoseconds: publications older than this are dropped; nil keeps them until pushed out by capacity.
    ///   - idempotency: which publish idempotency keys are remembered (default: none).
    public init(
        epoch: String, capacity: Int, ttlNanoseconds: UInt64?,
        idempotency: IdempotencyWindow = IdempotencyWindow(retentionNanoseconds: 0, capacity: 0)
    ) {
        precondition(capacity >= 0, "history capacity must not be negative")
        self.epoch = epoch
        self.idempotency = idempotency
        self.capacity = capacity
        self.ttlNanoseconds = ttlNanoseconds
        // Grows on demand: a channel holding one publication costs one entry, not `capacity` of them.
        self.entries = CircularBuffer(initialCapacity: min(max(capacity, 1), 4))
    }

    public var position: StreamPosition { StreamPosition(epoch: epoch, offset: topOffset) }

    /// Offset of the oldest publication held, nil when none is.
    public var oldestOffset: UInt64? { entries.first?.publication.offset }

    /// Number of publications currently held.
    public var count: Int { entries.count }

    /// Publishes `request` unless its idempotency key was already used within the idempotency window; then the
    /// original publication is returned and nothing is appended.
    public mutating func publish(_ request: PublishRequest, now: UInt64) -> (publication: Publication, isDuplicate: Bool) {
        if let key = request.idempotencyKey, idempotency.isEnabled {
            if let original = idempotency.publication(forKey: key, now: now) { return (original, true) }
            let publication = append(request, now: now)
            idempotency.remember(publication, key: key, now: now)
            return (publication, false)
        }
        return (append(request, now: now), false)
    }

    /// Assigns the next offset to `request` and keeps it in the window.
    public mutating func append(_ request: PublishRequest, now: UInt64) -> Publication {
        precondition(topOffset < StreamPosition.maxOffset, "channel offset space exhausted")
        topOffset += 1
        let publication = Publication(
            channel: request.channel, epoch: epoch, offset: topOffset, data: request.data,
            sender: request.sender, idempotencyKey: request.idempotencyKey, key: request.key, highPriority: request.highPriority,
            receipts: request.receipts
        )
        if capacity > 0 {
            if entries.count == capacity { entries.removeFirst() }
            entries.append(Entry(publication: publication, publishedAt: now))
        }
        expire(now: now)
        return publication
    }

    /// Drops publications older than the TTL.
    public mutating func expire(now: UInt64) {
        guard let ttl = ttlNanoseconds else { return }
        while let first = entries.first, now >= first.publishedAt, now - first.publishedAt > ttl {
            entries.removeFirst()
        }
    }

    /// Nothing left to recover or deduplicate at `now`: every publication expired (or none is kept) and no idempotency
    /// key is remembered. Such a stream can be forgotten without anyone losing a publication; only its position goes.
    public mutating func isIdle(now: UInt64) -> Bool {
        expire(now: now)
        return entries.isEmpty && idempotency.isEmpty(now: now)
    }

    /// Decides what a client that last saw `since` is owed.
    ///
    /// Returns exactly the publications after `since` when the window still holds all of them, or a reset with the
    /// current position when it does not (other epoch, client ahead of the stream, gap older than the window, or more
    /// missed publications than `limit`).
    public mutating func recover(since: StreamPosition?, limit: Int = .max, now: UInt64) -> Recovery {
        expire(now: now)
        let plan = RecoveryPlan(since: since, position: position, oldestHeld: entries.first?.publication.offset, limit: limit)
        let after: UInt64
        let missed: Int
        switch plan {
        case .answer(let recovery): return recovery
        case .read(let from, let count): (after, missed) = (from, count)
        }
        // The plan reads only when the oldest held publication is at or before `after + 1`.
        let skip = Int(after + 1 - entries.first!.publication.offset)
        var publications: [Publication] = []
        publications.reserveCapacity(missed)
        for index in entries.indices.dropFirst(skip) {
            publications.append(entries[index].publication)
        }
        return Recovery(outcome: .recovered, position: position, publications: publications)
    }

    /// Publications with offset greater than `after`, oldest first, at most `limit` (for the history API).
    public mutating func read(after: UInt64, limit: Int, now: UInt64) -> [Publication] {
        expire(now: now)
        var result: [Publication] = []
        for entry in entries where entry.publication.offset > after {
            if result.count == limit { break }
            result.append(entry.publication)
        }
        return result
    }

}

/// The recovery decision every engine makes the same way: from where the client stands and what the channel holds,
/// either the answer itself or which publications to read.
public enum RecoveryPlan: Sendable {
    /// Nothing to read: fresh, recovered with nothing missed, or a reset.
    case answer(Recovery)
    /// Recovered: the `count` publications after offset `after` are all held; read them.
    case read(after: UInt64, count: Int)

    /// - Parameters:
    ///   - position: the channel's epoch and newest offset.
    ///   - oldestHeld: offset of the oldest publication still held (not expired), nil when none is.
    ///   - limit: most publications one recovery may return (more missed is a reset).
    public init(since: StreamPosition?, position: StreamPosition, oldestHeld: UInt64?, limit: Int) {
        func reset(_ reason: Recovery.ResetReason) -> RecoveryPlan {
            .answer(Recovery(outcome: .reset(reason), position: position, publications: []))
        }
        guard let since else {
            self = .answer(Recovery(outcome: .fresh, position: position, publications: []))
            return
        }
        guard since.epoch == position.epoch else {
            self = reset(.epochChanged)
            return
        }
        guard since.offset <= position.offset else {
            self = reset(.positionAhead)
            return
        }
        let missed = position.offset - since.offset
        guard missed > 0 else {
            self = .answer(Recovery(outcome: .recovered, position: position, publications: []))
            return
        }
        guard missed <= UInt64(max(limit, 0)) else {
            self = reset(.tooManyMissed)
            return
        }
        guard let oldestHeld, oldestHeld <= since.offset + 1 else {
            self = reset(.outsideWindow)
            return
        }
        self = .read(after: since.offset, count: Int(missed))
    }
}

/// The answer to a recovery request.
public struct Recovery: Sendable {
    public enum Outcome: Equatable, Sendable {
        /// No position was given: the client starts from the current position.
        case fresh
        /// Every missed publication is in `publications` (possibly none).
        case recovered
        /// The missed publications are no longer held; the client must start over from `position`.
        case reset(ResetReason)
    }

    public enum ResetReason: String, Equatable, Sendable {
        case epochChanged = "epoch changed: history was lost"
        case positionAhead = "position is ahead of the stream"
        case outsideWindow = "missed publications are older than the history window"
        case tooManyMissed = "more publications missed than can be recovered at once"
        case invalidPosition = "position could not be parsed"
    }

    public var outcome: Outcome
    /// The stream's position after `publications`.
    public var position: StreamPosition
    public var publications: [Publication]

    public init(outcome: Outcome, position: StreamPosition, publications: [Publication]) {
        self.outcome = outcome
        self.position = position
        self.publications = publications
    }

    public var recovered: Bool { outcome == .recovered }
}

/// What a history request asks for (`history` command, `GET /api/history`): where the page starts and how long it is.
///
/// Pages are always oldest first. The engine reads "held publications after offset N", so every start is turned into
/// such reads here, once for both the command and the HTTP API.
public struct HistoryQuery: Sendable, Equatable {
    public static let maxLimit = 1000
    public static let defaultLimit = 100

    public enum Start: Sendable, Equatable {
        /// From the oldest publication still held.
        case oldest
        /// After the position the caller last saw; another epoch's position gets the oldest held and `recovered: false`.
        case since(StreamPosition)
        /// The newest `limit` held publications with offsets below this one (loading earlier messages).
        case before(UInt64)
        /// The newest `limit` held publications.
        case latest
    }

    public var start: Start
    public var limit: Int

    public init(start: Start = .oldest, limit: Int = Self.defaultLimit) {
        self.start = start
        self.limit = limit
    }

    /// One page and the stream's current position (newest offset, not the page's last).
    public struct Answer: Sendable {
        public var position: StreamPosition
        public var publications: [Publication]
        /// Only for `.since`: the page continues exactly after the given position.
        public var recovered: Bool?
    }

    /// Runs the query with `read(after, limit)`, the engine's "up to `limit` held publications after offset `after`".
    public func run(_ read: (UInt64, Int) async throws -> (StreamPosition, [Publication])) async throws -> Answer {
        switch start {
        case .oldest:
            let (position, publications) = try await read(0, limit)
            return Answer(position: position, publications: publications)
        case .since(let since):
            let (position, publications) = try await read(since.offset, limit)
            guard since.epoch == position.epoch else {
                // Another epoch: the offsets are not comparable, so the caller gets the oldest held and a reset flag.
                let (current, oldest) = try await read(0, limit)
                return Answer(position: current, publications: oldest, recovered: false)
            }
            let continues = publications.first.map { $0.offset == since.offset + 1 } ?? (since.offset == position.offset)
            return Answer(position: position, publications: publications, recovered: since.offset <= position.offset && continues)
        case .before(let bound):
            // Offsets of an epoch are consecutive and history is trimmed only at its oldest end, so the page is the
            // offsets bound-limit ..< bound that are still held.
            let after = bound > UInt64(limit) ? bound - 1 - UInt64(limit) : 0
            let (position, publications) = try await read(after, limit)
            return Answer(position: position, publications: publications.filter { $0.offset < bound })
        case .latest:
            let (position, publications) = try await read(0, limit)
            guard let last = publications.last, last.offset < position.offset, position.offset > UInt64(limit) else {
                return Answer(position: position, publications: publications)
            }
            let (current, newest) = try await read(position.offset - UInt64(limit), limit)
            return Answer(position: current, publications: newest)
        }
    }
}

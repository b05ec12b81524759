/// One subscribed channel's place in its stream, and the rule that keeps delivery exactly once and in order.
///
/// The server's recovery contract (protocol.md §3) already excludes duplicates and gaps; this is the second line of
/// defence the browser client also keeps (docs/client.md, "Duplicate guard"). No I/O: the driver feeds it what the
/// wire says and carries out its decision.
struct ChannelStream: Sendable, Equatable {
    /// What to do with a publication.
    enum Decision: Equatable {
        /// The next one: hand it to the application.
        case deliver
        /// At or before the position of the same epoch: already delivered, drop it.
        case duplicate
        /// Offsets were skipped without a `conflated` push or a reset (a server bug): delivered, and counted.
        case deliverAfterGap
    }

    /// The last publication delivered (or the position a subscribe reply or reset named); nil before the first subscribe
    /// reply of a subscription that started without a position.
    private(set) var position: Switchboard.Position?
    /// Set by a `conflated` push: the next publication may skip offsets on purpose (protocol.md §4.9).
    private var skipAnnounced = false

    init(since position: Switchboard.Position?) {
        self.position = position
    }

    /// Decides about a publication at `next`, and moves the position when it is delivered.
    mutating func accept(_ next: Switchboard.Position) -> Decision {
        defer { skipAnnounced = false }
        guard let position, position.epoch == next.epoch else {
            // The first publication, or one of a new epoch (the server announces those with a reset first).
            self.position = next
            return .deliver
        }
        if next.offset <= position.offset { return .duplicate }
        self.position = next
        return next.offset == position.offset + 1 || skipAnnounced ? .deliver : .deliverAfterGap
    }

    /// The server announced that the next publication follows publications skipped on purpose.
    mutating func announceSkip() {
        skipAnnounced = true
    }

    /// Continues from `position`: the current position of a fresh subscribe, or the one a reset named.
    mutating func restart(at position: Switchboard.Position) {
        self.position = position
        skipAnnounced = false
    }
}

/// Something delivered in stream order: a publication or a value that wraps one.
public protocol StreamItem {
    var streamOffset: UInt64 { get }
    var streamEpoch: String { get }
}

extension Publication: StreamItem {
    public var streamOffset: UInt64 { offset }
    public var streamEpoch: String { epoch }
}

/// Joins a recovery read with live deliveries so that a subscriber sees every publication once, in order — and checks
/// live deliveries for what a shared engine can do to them: skip offsets, or restart the stream in a new epoch.
///
/// A subscription is registered for live delivery *before* history is read, so a publication can arrive both live and
/// in the history read. While the read is pending, live items are buffered; when it completes, the history is emitted,
/// then the buffered items newer than it. Once live:
/// - an item at or below the last emitted offset is a duplicate and is dropped;
/// - an item that skips offsets (a **gap**) is buffered and the stream waits for history after the last emitted
///   position, exactly as at the start (``completeRecovery(history:position:)`` then emits the missing ones first);
/// - an item of another epoch means the stream restarted (history lost): the subscriber must be told (a reset) and
///   continues from it.
public struct SubscriptionStream<Item: StreamItem> {
    private enum State {
        case awaitingRecovery(buffered: [Item])
        case live(epoch: String, lastOffset: UInt64)
    }

    /// What to do with a live item.
    public enum Arrival {
        /// The next one in order: send it.
        case send(Item)
        /// Already sent (or older): drop it.
        case duplicate
        /// Held while recovery is pending.
        case buffered
        /// Offsets were skipped: the item is held; read history after `after` and complete the recovery with it.
        case gap(after: StreamPosition)
        /// The stream restarted in a new epoch: announce a reset at the position just before `item`, then send it.
        case epochChanged(Item)
    }

    private var state: State = .awaitingRecovery(buffered: [])

    public init() {}

    public var isLive: Bool {
        if case .live = state { return true }
        return false
    }

    /// Items buffered while recovery is pending.
    public var bufferedCount: Int {
        if case .awaitingRecovery(let buffered) = state { return buffered.count }
        return 0
    }

    /// A live item arrived.
    public mutating func receive(_ item: Item) -> Arrival {
        switch state {
        case .awaitingRecovery(var buffered):
            state = .live(epoch: "", lastOffset: 0)  // placeholder to avoid a copy of the array
            buffered.append(item)
            state = .awaitingRecovery(buffered: buffered)
            return .buffered
        case .live(let epoch, let lastOffset):
            let offset = item.streamOffset
            guard item.streamEpoch == epoch else {
                state = .live(epoch: item.streamEpoch, lastOffset: offset)
                return .epochChanged(item)
            }
            guard offset > lastOffset else { return .duplicate }
            guard offset == lastOffset + 1 else {
                state = .awaitingRecovery(buffered: [item])
                return .gap(after: StreamPosition(epoch: epoch, offset: lastOffset))
            }
            state = .live(epoch: epoch, lastOffset: offset)
            return .send(item)
        }
    }

    /// A subscription without a position whose start the client saw before the read (a raw WebSocket's 101, a raw SSE
    /// stream's headers) starts when it was registered: every item that arrived live since is sent, also those at or
    /// below the position the read saw (published between registration and read). Returns the start position to
    /// report — just before the first such item, else the read's — and the items to send.
    public mutating func completeFreshStart(position: StreamPosition) -> (start: StreamPosition, items: [Item]) {
        guard case .awaitingRecovery(let buffered) = state else { return (position, []) }
        var items: [Item] = []
        for item in buffered where item.streamEpoch == position.epoch && item.streamOffset > (items.last?.streamOffset ?? 0) {
            items.append(item)
        }
        guard let first = items.first, first.streamOffset <= position.offset else {
            return (position, completeRecovery(history: [], position: position))
        }
        let start = StreamPosition(epoch: position.epoch, offset: first.streamOffset - 1)
        // Later ones (up to the read's position and beyond) follow live, in order.
        state = .live(epoch: position.epoch, lastOffset: items.last!.streamOffset)
        return (start, items)
    }

    /// The recovery read finished: `history` holds the missed items (already converted), `position` the stream
    /// position the read saw. Returns everything to send, in order.
    ///
    /// After a reset the client starts at `position`, so buffered items at or below it are dropped too; buffered
    /// items of another epoch than `position`'s are too (the read saw the newer stream).
    public mutating func completeRecovery(history: [Item], position: StreamPosition) -> [Item] {
        guard case .awaitingRecovery(let buffered) = state else { return [] }
        var lastOffset = position.offset
        var out = history
        if let last = history.last { lastOffset = max(lastOffset, last.streamOffset) }
        for item in buffered where item.streamOffset > lastOffset && item.streamEpoch == position.epoch {
            out.append(item)
            lastOffset = item.streamOffset
        }
        state = .live(epoch: position.epoch, lastOffset: lastOffset)
        return out
    }
}

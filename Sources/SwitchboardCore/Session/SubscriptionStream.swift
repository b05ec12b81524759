/// Something delivered in stream order: a publication or a value that wraps one.
public protocol StreamItem {
    var streamOffset: UInt64 { get }
}

extension Publication: StreamItem {
    public var streamOffset: UInt64 { offset }
}

/// Joins a recovery read with live deliveries so that a subscriber sees every publication once, in order.
///
/// A subscription is registered for live delivery *before* history is read, so a publication can arrive both live and
/// in the history read. While the read is pending, live items are buffered; when it completes, the history is emitted,
/// then the buffered items newer than it. Once live, an item at or below the last emitted offset is a duplicate and
/// is dropped.
public struct SubscriptionStream<Item: StreamItem> {
    private enum State {
        case awaitingRecovery(buffered: [Item])
        case live(lastOffset: UInt64)
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

    /// A live item arrived. Returns it when it should be sent now.
    public mutating func receive(_ item: Item) -> Item? {
        switch state {
        case .awaitingRecovery(var buffered):
            state = .live(lastOffset: 0)  // placeholder to avoid a copy of the array
            buffered.append(item)
            state = .awaitingRecovery(buffered: buffered)
            return nil
        case .live(let lastOffset):
            guard item.streamOffset > lastOffset else { return nil }
            state = .live(lastOffset: item.streamOffset)
            return item
        }
    }

    /// The recovery read finished: `history` holds the missed items (already converted), `position` the stream position
    /// the read saw. Returns everything to send, in order.
    ///
    /// After a reset the client starts at `position`, so buffered items at or below it are dropped too.
    public mutating func completeRecovery(history: [Item], positionOffset: UInt64) -> [Item] {
        guard case .awaitingRecovery(let buffered) = state else { return [] }
        var lastOffset = positionOffset
        var out = history
        if let last = history.last { lastOffset = max(lastOffset, last.streamOffset) }
        for item in buffered where item.streamOffset > lastOffset {
            out.append(item)
            lastOffset = item.streamOffset
        }
        state = .live(lastOffset: lastOffset)
        return out
    }
}

public import NIOCore

/// What the queue may know about a queued message: which channel's publication it is, its conflation key, and
/// whether it is high priority. Untagged messages (replies, pings) are never conflated and keep normal priority.
public struct QueueTag: Sendable, Equatable {
    public var channel: ChannelName
    /// Set only on conflating channels: a newer message with the same key replaces the queued one.
    public var conflationKey: String?
    public var highPriority: Bool

    public init(channel: ChannelName, conflationKey: String? = nil, highPriority: Bool = false) {
        self.channel = channel
        self.conflationKey = conflationKey
        self.highPriority = highPriority
    }
}

/// A session's bounded queue of messages waiting for the socket to become writable.
///
/// Messages go straight to the socket while it is writable; only what the peer does not read piles up here.
/// Both the byte count and the message count are bounded: `append` refuses the message that would cross either bound,
/// and the caller applies the slow-consumer policy (disconnect with a reason, so the client can come back and recover).
///
/// Two policies apply only while messages wait:
/// - **Conflation**: a tagged message with a conflation key replaces the queued one of the same channel and key. The
///   newer one is appended (so offsets stay increasing within the channel), the older one leaves a gap, and the
///   next message of that channel that goes out is marked as following an intended skip.
/// - **Priority**: high-priority messages go out before normal ones. A channel's order is never changed: when a
///   high-priority message arrives for a channel that still has normal messages waiting, those move to the high
///   lane first, in order.
///
/// Performance: every delivery to a subscriber whose socket is backed up passes through here, so the type is
/// `@inlinable` (specialized for the transport's element type instead of going through generic witnesses), and an
/// idle connection's queue allocates nothing: a lane's storage is made when its first message waits.
public struct OutboundQueue<Element> {
    public let maxBytes: Int
    public let maxMessages: Int
    @inlinable public var bytes: Int { _bytes }
    /// Largest `bytes` ever reached; the slow-reader test reads it to prove the bound holds.
    @inlinable public var peakBytes: Int { _peakBytes }
    @inlinable public var count: Int { _count }
    /// Messages replaced by a newer one with the same conflation key, and messages moved ahead for priority.
    @inlinable public var conflatedCount: Int { _conflatedCount }
    @inlinable public var promotedCount: Int { _promotedCount }

    @usableFromInline var _bytes = 0
    @usableFromInline var _peakBytes = 0
    @usableFromInline var _count = 0
    @usableFromInline var _conflatedCount = 0
    @usableFromInline var _promotedCount = 0

    @usableFromInline
    struct Slot {
        /// nil once the message was conflated away or moved to the other lane.
        @usableFromInline var element: Element?
        @usableFromInline var size: Int
        @usableFromInline var tag: QueueTag?
        /// Set on a conflated slot: its removal is a gap the next message of the channel must announce.
        @usableFromInline var leftGap = false

        @inlinable
        init(element: Element?, size: Int, tag: QueueTag?, leftGap: Bool = false) {
            self.element = element
            self.size = size
            self.tag = tag
            self.leftGap = leftGap
        }
    }

    @usableFromInline
    struct Lane {
        /// nil until a message waits in this lane (most connections never queue anything).
        @usableFromInline var storage: CircularBuffer<Slot>?
        /// Sequence number of the first slot, so a remembered position survives pops.
        @usableFromInline var headSequence = 0

        @inlinable init() {}

        @inlinable var count: Int { storage?.count ?? 0 }
        @inlinable var nextSequence: Int { headSequence + count }

        @inlinable
        mutating func append(_ slot: Slot) {
            if storage == nil { storage = CircularBuffer(initialCapacity: 8) }
            storage!.append(slot)
        }

        @inlinable
        mutating func popFirst() -> Slot? {
            guard let slot = storage?.popFirst() else { return nil }
            headSequence += 1
            return slot
        }

        @inlinable
        subscript(offset offset: Int) -> Slot {
            get { storage![offset: offset] }
            set { storage![offset: offset] = newValue }
        }
    }

    @usableFromInline
    struct ConflationID: Hashable {
        @usableFromInline var channel: ChannelName
        @usableFromInline var key: String

        @inlinable
        init(channel: ChannelName, key: String) {
            self.channel = channel
            self.key = key
        }
    }

    @usableFromInline var high = Lane()
    @usableFromInline var normal = Lane()
    /// Where the queued message of each (channel, key) sits: lane (true: high) and sequence.
    @usableFromInline var conflationIndex: [ConflationID: (high: Bool, sequence: Int)] = [:]
    /// Live messages per channel in the normal lane, to know when a high-priority one must pull them along.
    @usableFromInline var normalPerChannel: [ChannelName: Int] = [:]
    /// Channels whose next popped message follows a conflation gap.
    @usableFromInline var gapPending: Set<ChannelName> = []

    @inlinable
    public init(maxBytes: Int, maxMessages: Int) {
        precondition(maxBytes > 0 && maxMessages > 0, "queue bounds must be positive")
        self.maxBytes = maxBytes
        self.maxMessages = maxMessages
    }

    @inlinable
    public var isEmpty: Bool { count == 0 }

    /// Queues `element`; false (and nothing queued) when it would exceed a bound. A conflated message frees its
    /// predecessor's room first, so a conflating stream never overflows the queue by repeating keys.
    @inlinable
    public mutating func append(_ element: Element, size: Int, tag: QueueTag? = nil) -> Bool {
        guard let tag else {
            // Replies, pings and untagged frames: no conflation, no priority, no per-channel bookkeeping.
            guard count < maxMessages, bytes + size <= maxBytes else { return false }
            normal.append(Slot(element: element, size: size, tag: nil))
            added(size)
            return true
        }
        var freed = (count: 0, bytes: 0)
        var replaced: (high: Bool, sequence: Int)?
        if let key = tag.conflationKey, let position = conflationIndex[ConflationID(channel: tag.channel, key: key)] {
            replaced = position
            freed = (1, slot(high: position.high, sequence: position.sequence).size)
        }
        guard count - freed.count < maxMessages, bytes - freed.bytes + size <= maxBytes else { return false }
        if let replaced {
            remove(high: replaced.high, sequence: replaced.sequence, leavingGap: true)
            _conflatedCount += 1
        }
        if tag.highPriority && normalPerChannel[tag.channel, default: 0] > 0 { promote(tag.channel) }
        insert(Slot(element: element, size: size, tag: tag), high: tag.highPriority)
        return true
    }

    /// The next message, and the channel whose conflation gap it follows (the caller announces the skip first).
    @inlinable
    public mutating func popNext() -> (element: Element, afterGap: ChannelName?)? {
        guard count > 0 else { return nil }
        if let next = pop(high: true) { return next }
        return pop(high: false)
    }

    @inlinable
    public mutating func popFirst() -> Element? {
        popNext()?.element
    }

    @inlinable
    public mutating func removeAll() {
        high = Lane()
        normal = Lane()
        conflationIndex.removeAll()
        normalPerChannel.removeAll()
        gapPending.removeAll()
        _bytes = 0
        _count = 0
    }

    // MARK: internals

    @inlinable
    mutating func pop(high isHigh: Bool) -> (element: Element, afterGap: ChannelName?)? {
        while let slot = isHigh ? high.popFirst() : normal.popFirst() {
            guard let element = slot.element else {
                if slot.leftGap, let channel = slot.tag?.channel { gapPending.insert(channel) }
                continue
            }
            _count -= 1
            _bytes -= slot.size
            var afterGap: ChannelName?
            if let tag = slot.tag {
                if let key = tag.conflationKey { conflationIndex[ConflationID(channel: tag.channel, key: key)] = nil }
                if !isHigh { decrementNormal(tag.channel) }
                if !gapPending.isEmpty, gapPending.remove(tag.channel) != nil { afterGap = tag.channel }
            }
            return (element, afterGap)
        }
        return nil
    }

    @inlinable
    mutating func added(_ size: Int) {
        _count += 1
        _bytes += size
        _peakBytes = max(_peakBytes, _bytes)
    }

    @inlinable
    func slot(high isHigh: Bool, sequence: Int) -> Slot {
        let lane = isHigh ? high : normal
        return lane[offset: sequence - lane.headSequence]
    }

    @inlinable
    mutating func insert(_ slot: Slot, high isHigh: Bool) {
        if let tag = slot.tag {
            if let key = tag.conflationKey {
                conflationIndex[ConflationID(channel: tag.channel, key: key)] = (isHigh, isHigh ? high.nextSequence : normal.nextSequence)
            }
            if !isHigh { normalPerChannel[tag.channel, default: 0] += 1 }
        }
        if isHigh { high.append(slot) } else { normal.append(slot) }
        added(slot.size)
    }

    @inlinable
    mutating func remove(high isHigh: Bool, sequence: Int, leavingGap: Bool) {
        let slot = self.slot(high: isHigh, sequence: sequence)
        let emptied = Slot(element: nil, size: 0, tag: slot.tag, leftGap: leavingGap)
        if isHigh {
            high[offset: sequence - high.headSequence] = emptied
        } else {
            normal[offset: sequence - normal.headSequence] = emptied
        }
        _count -= 1
        _bytes -= slot.size
        if let tag = slot.tag {
            if let key = tag.conflationKey { conflationIndex[ConflationID(channel: tag.channel, key: key)] = nil }
            if !isHigh { decrementNormal(tag.channel) }
        }
    }

    /// Moves every waiting normal message of `channel` to the end of the high lane, keeping their order.
    @inlinable
    mutating func promote(_ channel: ChannelName) {
        for offset in 0..<normal.count {
            let slot = normal[offset: offset]
            guard slot.tag?.channel == channel else { continue }
            if slot.element != nil {
                remove(high: false, sequence: normal.headSequence + offset, leavingGap: false)
                insert(slot, high: true)
                _promotedCount += 1
            } else if slot.leftGap {
                // The gap travels with the channel: its next message in the high lane announces it.
                normal[offset: offset].leftGap = false
                high.append(Slot(element: nil, size: 0, tag: slot.tag, leftGap: true))
            }
        }
    }

    @inlinable
    mutating func decrementNormal(_ channel: ChannelName) {
        let left = normalPerChannel[channel, default: 1] - 1
        normalPerChannel[channel] = left > 0 ? left : nil
    }
}

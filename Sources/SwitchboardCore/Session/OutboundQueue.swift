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
public struct OutboundQueue<Element> {
    public let maxBytes: Int
    public let maxMessages: Int
    public private(set) var bytes = 0
    /// Largest `bytes` ever reached; the slow-reader test reads it to prove the bound holds.
    public private(set) var peakBytes = 0
    public private(set) var count = 0
    /// Messages replaced by a newer one with the same conflation key, and messages moved ahead for priority.
    public private(set) var conflatedCount = 0
    public private(set) var promotedCount = 0

    private struct Slot {
        /// nil once the message was conflated away or moved to the other lane.
        var element: Element?
        var size: Int
        var tag: QueueTag?
        /// Set on a conflated slot: its removal is a gap the next message of the channel must announce.
        var leftGap = false
    }

    private struct Lane {
        var slots = CircularBuffer<Slot>()
        /// Sequence number of `slots.first`, so a remembered position survives pops.
        var headSequence = 0
        var nextSequence: Int { headSequence + slots.count }
    }

    private struct ConflationID: Hashable {
        var channel: ChannelName
        var key: String
    }

    private var lanes = [Lane(), Lane()]  // 0: high, 1: normal
    /// Where the queued message of each (channel, key) sits: lane and sequence.
    private var conflationIndex: [ConflationID: (lane: Int, sequence: Int)] = [:]
    /// Live messages per channel in the normal lane, to know when a high-priority one must pull them along.
    private var normalPerChannel: [ChannelName: Int] = [:]
    /// Channels whose next popped message follows a conflation gap.
    private var gapPending: Set<ChannelName> = []

    public init(maxBytes: Int, maxMessages: Int) {
        precondition(maxBytes > 0 && maxMessages > 0, "queue bounds must be positive")
        self.maxBytes = maxBytes
        self.maxMessages = maxMessages
    }

    public var isEmpty: Bool { count == 0 }

    /// Queues `element`; false (and nothing queued) when it would exceed a bound. A conflated message frees its
    /// predecessor's room first, so a conflating stream never overflows the queue by repeating keys.
    public mutating func append(_ element: Element, size: Int, tag: QueueTag? = nil) -> Bool {
        var freed = (count: 0, bytes: 0)
        var replaced: (lane: Int, sequence: Int)?
        if let tag, let key = tag.conflationKey, let position = conflationIndex[ConflationID(channel: tag.channel, key: key)] {
            replaced = position
            freed = (1, lanes[position.lane].slots[offset: position.sequence - lanes[position.lane].headSequence].size)
        }
        guard count - freed.count < maxMessages, bytes - freed.bytes + size <= maxBytes else { return false }
        if let replaced {
            remove(lane: replaced.lane, sequence: replaced.sequence, leavingGap: true)
            conflatedCount += 1
        }
        var lane = 1
        if let tag, tag.highPriority {
            lane = 0
            if normalPerChannel[tag.channel, default: 0] > 0 { promote(tag.channel) }
        }
        insert(Slot(element: element, size: size, tag: tag), lane: lane)
        return true
    }

    /// The next message, and the channel whose conflation gap it follows (the caller announces the skip first).
    public mutating func popNext() -> (element: Element, afterGap: ChannelName?)? {
        for lane in 0..<2 {
            while let slot = lanes[lane].slots.popFirst() {
                lanes[lane].headSequence += 1
                guard let element = slot.element else {
                    if slot.leftGap, let channel = slot.tag?.channel { gapPending.insert(channel) }
                    continue
                }
                count -= 1
                bytes -= slot.size
                var afterGap: ChannelName?
                if let tag = slot.tag {
                    if let key = tag.conflationKey { conflationIndex[ConflationID(channel: tag.channel, key: key)] = nil }
                    if lane == 1 { decrementNormal(tag.channel) }
                    if gapPending.remove(tag.channel) != nil { afterGap = tag.channel }
                }
                return (element, afterGap)
            }
        }
        return nil
    }

    public mutating func popFirst() -> Element? {
        popNext()?.element
    }

    public mutating func removeAll() {
        lanes = [Lane(), Lane()]
        conflationIndex.removeAll()
        normalPerChannel.removeAll()
        gapPending.removeAll()
        bytes = 0
        count = 0
    }

    // MARK: internals

    private mutating func insert(_ slot: Slot, lane: Int) {
        if let tag = slot.tag {
            if let key = tag.conflationKey {
                conflationIndex[ConflationID(channel: tag.channel, key: key)] = (lane, lanes[lane].nextSequence)
            }
            if lane == 1 { normalPerChannel[tag.channel, default: 0] += 1 }
        }
        lanes[lane].slots.append(slot)
        count += 1
        bytes += slot.size
        peakBytes = max(peakBytes, bytes)
    }

    private mutating func remove(lane: Int, sequence: Int, leavingGap: Bool) {
        let offset = sequence - lanes[lane].headSequence
        let slot = lanes[lane].slots[offset: offset]
        lanes[lane].slots[offset: offset] = Slot(element: nil, size: 0, tag: slot.tag, leftGap: leavingGap)
        count -= 1
        bytes -= slot.size
        if let tag = slot.tag {
            if let key = tag.conflationKey { conflationIndex[ConflationID(channel: tag.channel, key: key)] = nil }
            if lane == 1 { decrementNormal(tag.channel) }
        }
    }

    /// Moves every waiting normal message of `channel` to the end of the high lane, keeping their order.
    private mutating func promote(_ channel: ChannelName) {
        for offset in 0..<lanes[1].slots.count {
            let slot = lanes[1].slots[offset: offset]
            guard slot.tag?.channel == channel else { continue }
            if slot.element != nil {
                remove(lane: 1, sequence: lanes[1].headSequence + offset, leavingGap: false)
                insert(slot, lane: 0)
                promotedCount += 1
            } else if slot.leftGap {
                // The gap travels with the channel: its next message in the high lane announces it.
                lanes[1].slots[offset: offset].leftGap = false
                lanes[0].slots.append(Slot(element: nil, size: 0, tag: slot.tag, leftGap: true))
            }
        }
    }

    private mutating func decrementNormal(_ channel: ChannelName) {
        let left = normalPerChannel[channel, default: 1] - 1
        normalPerChannel[channel] = left > 0 ? left : nil
    }
}

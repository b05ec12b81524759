import Testing

@testable import SwitchboardCore

/// The session's bounded outbound queue: byte and message bounds, refusal semantics and the peak.
struct OutboundQueueTests {
    @Test func aNewQueueIsEmpty() {
        var queue = OutboundQueue<String>(maxBytes: 100, maxMessages: 10)
        #expect(queue.isEmpty)
        #expect(queue.count == 0)
        #expect(queue.bytes == 0)
        #expect(queue.peakBytes == 0)
        #expect(queue.popFirst() == nil)
    }

    @Test func appendedMessagesPopInFirstInFirstOutOrder() {
        var queue = OutboundQueue<String>(maxBytes: 100, maxMessages: 10)
        #expect(queue.append("a", size: 1) == true)
        #expect(queue.append("b", size: 2) == true)
        #expect(queue.append("c", size: 3) == true)
        #expect(queue.popFirst() == "a")
        #expect(queue.popFirst() == "b")
        #expect(queue.popFirst() == "c")
        #expect(queue.popFirst() == nil)
        #expect(queue.isEmpty)
    }

    @Test func bytesTrackTheSizesOfQueuedMessages() {
        var queue = OutboundQueue<String>(maxBytes: 100, maxMessages: 10)
        _ = queue.append("a", size: 10)
        _ = queue.append("b", size: 25)
        #expect(queue.bytes == 35)
        #expect(queue.count == 2)
        _ = queue.popFirst()
        #expect(queue.bytes == 25)
        #expect(queue.count == 1)
    }

    @Test func aMessageThatFillsTheByteBoundExactlyIsAccepted() {
        var queue = OutboundQueue<String>(maxBytes: 100, maxMessages: 10)
        #expect(queue.append("a", size: 60) == true)
        #expect(queue.append("b", size: 40) == true)
        #expect(queue.bytes == 100)
    }

    @Test func aMessageThatWouldCrossTheByteBoundIsRefused() {
        var queue = OutboundQueue<String>(maxBytes: 100, maxMessages: 10)
        #expect(queue.append("a", size: 60) == true)
        #expect(queue.append("b", size: 41) == false)
    }

    @Test func aMessageLargerThanTheWholeBoundIsRefusedByAnEmptyQueue() {
        var queue = OutboundQueue<String>(maxBytes: 100, maxMessages: 10)
        #expect(queue.append("huge", size: 101) == false)
        #expect(queue.isEmpty)
    }

    @Test func aMessageBeyondTheCountBoundIsRefused() {
        var queue = OutboundQueue<String>(maxBytes: 1_000, maxMessages: 2)
        #expect(queue.append("a", size: 1) == true)
        #expect(queue.append("b", size: 1) == true)
        #expect(queue.append("c", size: 1) == false)
        #expect(queue.append("empty", size: 0) == false)
    }

    @Test func aRefusalLeavesTheQueueUnchanged() {
        var queue = OutboundQueue<String>(maxBytes: 100, maxMessages: 2)
        _ = queue.append("a", size: 70)
        #expect(queue.append("too big", size: 31) == false)
        #expect(queue.count == 1)
        #expect(queue.bytes == 70)
        #expect(queue.peakBytes == 70)
        _ = queue.append("b", size: 30)
        #expect(queue.append("too many", size: 0) == false)
        #expect(queue.count == 2)
        #expect(queue.bytes == 100)
        #expect(queue.popFirst() == "a")
        #expect(queue.popFirst() == "b")
        #expect(queue.popFirst() == nil)
    }

    @Test func poppingMakesRoomAgain() {
        var queue = OutboundQueue<String>(maxBytes: 10, maxMessages: 1)
        #expect(queue.append("a", size: 10) == true)
        #expect(queue.append("b", size: 1) == false)
        _ = queue.popFirst()
        #expect(queue.append("b", size: 10) == true)
    }

    @Test func peakBytesRemembersTheHighestFillAfterPopping() {
        var queue = OutboundQueue<String>(maxBytes: 100, maxMessages: 10)
        _ = queue.append("a", size: 30)
        _ = queue.append("b", size: 50)
        _ = queue.popFirst()
        _ = queue.popFirst()
        _ = queue.append("c", size: 20)
        #expect(queue.bytes == 20)
        #expect(queue.peakBytes == 80)
    }

    @Test func peakBytesNeverExceedsTheByteBound() {
        var queue = OutboundQueue<Int>(maxBytes: 64, maxMessages: 1_000)
        for n in 0..<500 {
            _ = queue.append(n, size: n % 17)
            if n % 3 == 0 { _ = queue.popFirst() }
        }
        #expect(queue.peakBytes <= 64)
        #expect(queue.bytes <= 64)
    }

    @Test func removeAllEmptiesTheQueueButKeepsThePeak() {
        var queue = OutboundQueue<String>(maxBytes: 100, maxMessages: 10)
        _ = queue.append("a", size: 40)
        _ = queue.append("b", size: 40)
        queue.removeAll()
        #expect(queue.isEmpty)
        #expect(queue.bytes == 0)
        #expect(queue.peakBytes == 80)
        #expect(queue.append("c", size: 100) == true)
    }
}

/// Conflation and priority inside the outbound queue (they act only while messages wait).
struct OutboundQueuePolicyTests {
    private let ticker = try! ChannelName(validating: "ticker")
    private let alerts = try! ChannelName(validating: "alerts")

    private func drain(_ queue: inout OutboundQueue<String>) -> [String] {
        var out: [String] = []
        while let next = queue.popNext() {
            if let channel = next.afterGap { out.append("gap:\(channel)") }
            out.append(next.element)
        }
        return out
    }

    @Test func aNewerMessageWithTheSameKeyReplacesTheQueuedOneAndIsAnnouncedAsFollowingAGap() {
        var queue = OutboundQueue<String>(maxBytes: 100, maxMessages: 10)
        _ = queue.append("AAPL@1", size: 1, tag: QueueTag(channel: ticker, conflationKey: "AAPL"))
        _ = queue.append("MSFT@2", size: 1, tag: QueueTag(channel: ticker, conflationKey: "MSFT"))
        _ = queue.append("AAPL@3", size: 1, tag: QueueTag(channel: ticker, conflationKey: "AAPL"))
        #expect(queue.count == 2)
        #expect(queue.conflatedCount == 1)
        // Offsets stay increasing; the first message after the removed one announces the skip.
        #expect(drain(&queue) == ["gap:ticker", "MSFT@2", "AAPL@3"])
    }

    @Test func untaggedAndKeylessMessagesAreNeverConflated() {
        var queue = OutboundQueue<String>(maxBytes: 100, maxMessages: 10)
        _ = queue.append("reply", size: 1)
        _ = queue.append("p1", size: 1, tag: QueueTag(channel: ticker))
        _ = queue.append("p2", size: 1, tag: QueueTag(channel: ticker))
        #expect(drain(&queue) == ["reply", "p1", "p2"])
    }

    @Test func aRepeatingKeyNeverOverflowsTheQueue() {
        var queue = OutboundQueue<String>(maxBytes: 10, maxMessages: 2)
        for price in 1...1000 {
            let accepted = queue.append("AAPL@\(price)", size: 5, tag: QueueTag(channel: ticker, conflationKey: "AAPL"))
            #expect(accepted)
        }
        #expect(queue.count == 1)
        #expect(drain(&queue) == ["gap:ticker", "AAPL@1000"])
    }

    @Test func highPriorityMessagesGoBeforeOtherChannels() {
        var queue = OutboundQueue<String>(maxBytes: 100, maxMessages: 10)
        _ = queue.append("t1", size: 1, tag: QueueTag(channel: ticker))
        _ = queue.append("t2", size: 1, tag: QueueTag(channel: ticker))
        _ = queue.append("alert", size: 1, tag: QueueTag(channel: alerts, highPriority: true))
        #expect(drain(&queue) == ["alert", "t1", "t2"])
    }

    @Test func priorityNeverReordersOneChannel() {
        var queue = OutboundQueue<String>(maxBytes: 100, maxMessages: 10)
        _ = queue.append("a1", size: 1, tag: QueueTag(channel: alerts))
        _ = queue.append("t1", size: 1, tag: QueueTag(channel: ticker))
        _ = queue.append("a2", size: 1, tag: QueueTag(channel: alerts, highPriority: true))
        #expect(queue.promotedCount == 1)
        #expect(drain(&queue) == ["a1", "a2", "t1"])
    }

    @Test func aGapMovesWithItsChannelWhenPromoted() {
        var queue = OutboundQueue<String>(maxBytes: 100, maxMessages: 10)
        _ = queue.append("t1", size: 1, tag: QueueTag(channel: ticker))
        _ = queue.append("a@1", size: 1, tag: QueueTag(channel: alerts, conflationKey: "k"))
        _ = queue.append("a@2", size: 1, tag: QueueTag(channel: alerts, conflationKey: "k"))
        _ = queue.append("a@3", size: 1, tag: QueueTag(channel: alerts, conflationKey: "x", highPriority: true))
        #expect(drain(&queue) == ["gap:alerts", "a@2", "a@3", "t1"])
    }

    @Test func boundsCountOnlyLiveMessages() {
        var queue = OutboundQueue<String>(maxBytes: 100, maxMessages: 2)
        _ = queue.append("a@1", size: 10, tag: QueueTag(channel: ticker, conflationKey: "a"))
        _ = queue.append("a@2", size: 10, tag: QueueTag(channel: ticker, conflationKey: "a"))
        _ = queue.append("b", size: 10, tag: QueueTag(channel: ticker))
        #expect(queue.count == 2)
        #expect(queue.bytes == 20)
        #expect(queue.append("c", size: 1) == false)
    }
}

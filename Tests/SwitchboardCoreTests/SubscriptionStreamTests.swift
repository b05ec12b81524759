import NIOCore
import Testing

@testable import SwitchboardCore

private struct Item: StreamItem, Equatable {
    var streamOffset: UInt64
    var source: String
    var streamEpoch = "e"
}

private func live(_ offset: UInt64, epoch: String = "e") -> Item { Item(streamOffset: offset, source: "live", streamEpoch: epoch) }
private func history(_ offset: UInt64) -> Item { Item(streamOffset: offset, source: "history") }
private func at(_ offset: UInt64) -> StreamPosition { StreamPosition(epoch: "e", offset: offset) }

/// The item a live arrival says to send now, nil when it says anything else.
private func sent(_ arrival: SubscriptionStream<Item>.Arrival) -> Item? {
    if case .send(let item) = arrival { return item }
    return nil
}

private func offsets(_ items: [Item]) -> [UInt64] { items.map(\.streamOffset) }

/// Joining a recovery read with live deliveries: every publication once, in order.
struct SubscriptionStreamTests {
    @Test func aFreshStreamStartSendsWhatArrivedSinceRegistrationEvenAtOrBelowTheReadPosition() {
        var stream = SubscriptionStream<Item>()
        // Published after the subscription was registered, before its read: the read saw position 6.
        _ = stream.receive(live(5))
        _ = stream.receive(live(6))
        let (start, items) = stream.completeFreshStart(position: at(6))
        #expect(start == at(4))
        #expect(items == [live(5), live(6)])
        #expect(sent(stream.receive(live(6))) == nil, "a repeat is a duplicate")
        #expect(sent(stream.receive(live(7))) == live(7))
    }

    @Test func aFreshStreamStartWithOnlyNewerItemsStartsAtTheReadPosition() {
        var stream = SubscriptionStream<Item>()
        _ = stream.receive(live(8))
        let (start, items) = stream.completeFreshStart(position: at(7))
        #expect(start == at(7))
        #expect(items == [live(8)])
        var empty = SubscriptionStream<Item>()
        let (quietStart, none) = empty.completeFreshStart(position: at(7))
        #expect(quietStart == at(7) && none.isEmpty)
        #expect(sent(empty.receive(live(8))) == live(8))
    }

    @Test func aFreshStreamStartStaysOpenForLaterOnesUpToTheReadPosition() {
        var stream = SubscriptionStream<Item>()
        _ = stream.receive(live(5))
        // 6 and 7 were committed before the read but their live deliveries are still on their way.
        let (start, items) = stream.completeFreshStart(position: at(7))
        #expect(start == at(4) && items == [live(5)])
        #expect(sent(stream.receive(live(6))) == live(6))
        #expect(sent(stream.receive(live(7))) == live(7))
    }

    @Test func aNewStreamWaitsForRecovery() {
        let stream = SubscriptionStream<Item>()
        #expect(!stream.isLive)
        #expect(stream.bufferedCount == 0)
    }

    @Test func liveItemsAreBufferedWhileRecoveryIsPending() {
        var stream = SubscriptionStream<Item>()
        #expect(sent(stream.receive(live(4))) == nil)
        #expect(sent(stream.receive(live(5))) == nil)
        #expect(stream.bufferedCount == 2)
        #expect(!stream.isLive)
    }

    @Test func completingRecoveryEmitsHistoryThenNewerBufferedItems() {
        var stream = SubscriptionStream<Item>()
        _ = stream.receive(live(4))
        _ = stream.receive(live(5))
        let out = stream.completeRecovery(history: [history(2), history(3)], position: at(3))
        #expect(out == [history(2), history(3), live(4), live(5)])
        #expect(stream.isLive)
        #expect(stream.bufferedCount == 0)
    }

    @Test func itemsBothBufferedAndInHistoryAreEmittedOnceFromHistory() {
        var stream = SubscriptionStream<Item>()
        _ = stream.receive(live(3))
        _ = stream.receive(live(4))
        _ = stream.receive(live(5))
        let out = stream.completeRecovery(history: [history(2), history(3), history(4)], position: at(4))
        #expect(out == [history(2), history(3), history(4), live(5)])
    }

    @Test func recoveryOutputIsInStrictlyIncreasingOffsetOrder() {
        var stream = SubscriptionStream<Item>()
        for offset: UInt64 in [6, 7, 8, 9] { _ = stream.receive(live(offset)) }
        let out = stream.completeRecovery(history: (3...7).map(history), position: at(7))
        #expect(offsets(out) == [3, 4, 5, 6, 7, 8, 9])
    }

    @Test func theHistoryReadsNewestItemCountsEvenWhenThePositionIsOlder() {
        var stream = SubscriptionStream<Item>()
        _ = stream.receive(live(5))
        _ = stream.receive(live(6))
        let out = stream.completeRecovery(history: [history(4), history(5)], position: at(3))
        #expect(out == [history(4), history(5), live(6)])
    }

    @Test func afterAResetBufferedItemsAtOrBelowThePositionAreDropped() {
        var stream = SubscriptionStream<Item>()
        _ = stream.receive(live(9))
        _ = stream.receive(live(10))
        _ = stream.receive(live(11))
        let out = stream.completeRecovery(history: [], position: at(10))
        #expect(out == [live(11)])
    }

    @Test func aFreshStartWithNothingBufferedEmitsNothing() {
        var stream = SubscriptionStream<Item>()
        #expect(stream.completeRecovery(history: [], position: at(7)).isEmpty)
        #expect(stream.isLive)
    }

    @Test func duplicateBufferedItemsAreEmittedOnce() {
        var stream = SubscriptionStream<Item>()
        _ = stream.receive(live(4))
        _ = stream.receive(live(4))
        _ = stream.receive(live(5))
        #expect(offsets(stream.completeRecovery(history: [], position: at(3))) == [4, 5])
    }

    @Test func onceLiveNewerItemsPassThrough() {
        var stream = SubscriptionStream<Item>()
        _ = stream.completeRecovery(history: [history(1)], position: at(1))
        #expect(sent(stream.receive(live(2))) == live(2))
        #expect(sent(stream.receive(live(3))) == live(3))
    }

    @Test func onceLiveAnItemAlreadyEmittedIsDropped() {
        var stream = SubscriptionStream<Item>()
        _ = stream.receive(live(3))
        _ = stream.completeRecovery(history: [history(2), history(3)], position: at(3))
        #expect(sent(stream.receive(live(3))) == nil)
        #expect(sent(stream.receive(live(2))) == nil)
        #expect(sent(stream.receive(live(4))) == live(4))
        #expect(sent(stream.receive(live(4))) == nil)
    }

    @Test func onceLiveItemsAtOrBelowTheResetPositionAreDropped() {
        var stream = SubscriptionStream<Item>()
        _ = stream.completeRecovery(history: [], position: at(10))
        #expect(sent(stream.receive(live(10))) == nil)
        #expect(sent(stream.receive(live(11))) == live(11))
    }

    @Test func completingRecoveryTwiceEmitsNothingTheSecondTime() {
        var stream = SubscriptionStream<Item>()
        _ = stream.receive(live(2))
        _ = stream.completeRecovery(history: [], position: at(1))
        #expect(stream.completeRecovery(history: [history(5)], position: at(5)).isEmpty)
        #expect(sent(stream.receive(live(3))) == live(3))
    }

    // MARK: what a shared engine can do to live deliveries

    @Test func aLiveItemThatSkipsOffsetsIsHeldUntilHistoryFillsTheGap() {
        var stream = SubscriptionStream<Item>()
        _ = stream.completeRecovery(history: [], position: at(3))
        guard case .gap(let after) = stream.receive(live(6)) else {
            Issue.record("a skipped offset must be a gap")
            return
        }
        #expect(after == at(3))
        #expect(!stream.isLive)
        #expect(sent(stream.receive(live(7))) == nil)  // buffered behind the gap
        let out = stream.completeRecovery(history: [history(4), history(5), history(6)], position: at(6))
        #expect(out == [history(4), history(5), history(6), live(7)])
        #expect(sent(stream.receive(live(8))) == live(8))
    }

    @Test func aGapThatCannotBeFilledContinuesFromTheResetPosition() {
        var stream = SubscriptionStream<Item>()
        _ = stream.completeRecovery(history: [], position: at(3))
        _ = stream.receive(live(9))
        // The read answered a reset at 9: nothing to replay, the held item is at the position and is dropped.
        #expect(stream.completeRecovery(history: [], position: at(9)).isEmpty)
        #expect(sent(stream.receive(live(10))) == live(10))
    }

    @Test func anItemOfAnotherEpochIsAResetAndTheStreamFollowsTheNewEpoch() {
        var stream = SubscriptionStream<Item>()
        _ = stream.completeRecovery(history: [], position: at(40))
        guard case .epochChanged(let item) = stream.receive(live(1, epoch: "f")) else {
            Issue.record("another epoch must be announced")
            return
        }
        #expect(item == live(1, epoch: "f"))
        #expect(sent(stream.receive(live(2, epoch: "f"))) == live(2, epoch: "f"))
        // A late item of the old epoch is now the other epoch: announced again rather than silently mixed in.
        guard case .epochChanged = stream.receive(live(41)) else {
            Issue.record("the old epoch after the new one is a change too")
            return
        }
    }

    @Test func bufferedItemsOfAnotherEpochThanTheRecoveryReadAreDropped() {
        var stream = SubscriptionStream<Item>()
        _ = stream.receive(live(7, epoch: "old"))
        _ = stream.receive(live(1))
        #expect(stream.completeRecovery(history: [], position: at(0)) == [live(1)])
    }

    @Test func publicationsAreStreamItemsOrderedByOffset() {
        let channel = try! ChannelName(validating: "c")
        let publication = Publication(channel: channel, epoch: "e", offset: 42, data: ByteBuffer(string: "1"))
        #expect(publication.streamOffset == 42)
        #expect(publication.streamEpoch == "e")
    }
}

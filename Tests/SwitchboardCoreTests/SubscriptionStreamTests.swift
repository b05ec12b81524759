import NIOCore
import Testing

@testable import SwitchboardCore

private struct Item: StreamItem, Equatable {
    var streamOffset: UInt64
    var source: String
}

private func live(_ offset: UInt64) -> Item { Item(streamOffset: offset, source: "live") }
private func history(_ offset: UInt64) -> Item { Item(streamOffset: offset, source: "history") }

private func offsets(_ items: [Item]) -> [UInt64] { items.map(\.streamOffset) }

/// Joining a recovery read with live deliveries: every publication once, in order.
struct SubscriptionStreamTests {
    @Test func aNewStreamWaitsForRecovery() {
        let stream = SubscriptionStream<Item>()
        #expect(!stream.isLive)
        #expect(stream.bufferedCount == 0)
    }

    @Test func liveItemsAreBufferedWhileRecoveryIsPending() {
        var stream = SubscriptionStream<Item>()
        #expect(stream.receive(live(4)) == nil)
        #expect(stream.receive(live(5)) == nil)
        #expect(stream.bufferedCount == 2)
        #expect(!stream.isLive)
    }

    @Test func completingRecoveryEmitsHistoryThenNewerBufferedItems() {
        var stream = SubscriptionStream<Item>()
        _ = stream.receive(live(4))
        _ = stream.receive(live(5))
        let out = stream.completeRecovery(history: [history(2), history(3)], positionOffset: 3)
        #expect(out == [history(2), history(3), live(4), live(5)])
        #expect(stream.isLive)
        #expect(stream.bufferedCount == 0)
    }

    @Test func itemsBothBufferedAndInHistoryAreEmittedOnceFromHistory() {
        var stream = SubscriptionStream<Item>()
        _ = stream.receive(live(3))
        _ = stream.receive(live(4))
        _ = stream.receive(live(5))
        let out = stream.completeRecovery(history: [history(2), history(3), history(4)], positionOffset: 4)
        #expect(out == [history(2), history(3), history(4), live(5)])
    }

    @Test func recoveryOutputIsInStrictlyIncreasingOffsetOrder() {
        var stream = SubscriptionStream<Item>()
        for offset: UInt64 in [6, 7, 8, 9] { _ = stream.receive(live(offset)) }
        let out = stream.completeRecovery(history: (3...7).map(history), positionOffset: 7)
        #expect(offsets(out) == [3, 4, 5, 6, 7, 8, 9])
    }

    @Test func theHistoryReadsNewestItemCountsEvenWhenThePositionIsOlder() {
        var stream = SubscriptionStream<Item>()
        _ = stream.receive(live(5))
        _ = stream.receive(live(6))
        let out = stream.completeRecovery(history: [history(4), history(5)], positionOffset: 3)
        #expect(out == [history(4), history(5), live(6)])
    }

    @Test func afterAResetBufferedItemsAtOrBelowThePositionAreDropped() {
        var stream = SubscriptionStream<Item>()
        _ = stream.receive(live(9))
        _ = stream.receive(live(10))
        _ = stream.receive(live(11))
        let out = stream.completeRecovery(history: [], positionOffset: 10)
        #expect(out == [live(11)])
    }

    @Test func aFreshStartWithNothingBufferedEmitsNothing() {
        var stream = SubscriptionStream<Item>()
        #expect(stream.completeRecovery(history: [], positionOffset: 7).isEmpty)
        #expect(stream.isLive)
    }

    @Test func duplicateBufferedItemsAreEmittedOnce() {
        var stream = SubscriptionStream<Item>()
        _ = stream.receive(live(4))
        _ = stream.receive(live(4))
        _ = stream.receive(live(5))
        #expect(offsets(stream.completeRecovery(history: [], positionOffset: 3)) == [4, 5])
    }

    @Test func onceLiveNewerItemsPassThrough() {
        var stream = SubscriptionStream<Item>()
        _ = stream.completeRecovery(history: [history(1)], positionOffset: 1)
        #expect(stream.receive(live(2)) == live(2))
        #expect(stream.receive(live(3)) == live(3))
    }

    @Test func onceLiveAnItemAlreadyEmittedIsDropped() {
        var stream = SubscriptionStream<Item>()
        _ = stream.receive(live(3))
        _ = stream.completeRecovery(history: [history(2), history(3)], positionOffset: 3)
        #expect(stream.receive(live(3)) == nil)
        #expect(stream.receive(live(2)) == nil)
        #expect(stream.receive(live(4)) == live(4))
        #expect(stream.receive(live(4)) == nil)
    }

    @Test func onceLiveItemsAtOrBelowTheResetPositionAreDropped() {
        var stream = SubscriptionStream<Item>()
        _ = stream.completeRecovery(history: [], positionOffset: 10)
        #expect(stream.receive(live(10)) == nil)
        #expect(stream.receive(live(11)) == live(11))
    }

    @Test func completingRecoveryTwiceEmitsNothingTheSecondTime() {
        var stream = SubscriptionStream<Item>()
        _ = stream.receive(live(2))
        _ = stream.completeRecovery(history: [], positionOffset: 1)
        #expect(stream.completeRecovery(history: [history(5)], positionOffset: 5).isEmpty)
        #expect(stream.receive(live(3)) == live(3))
    }

    @Test func publicationsAreStreamItemsOrderedByOffset() {
        let channel = try! ChannelName(validating: "c")
        let publication = Publication(channel: channel, epoch: "e", offset: 42, data: ByteBuffer(string: "1"))
        #expect(publication.streamOffset == 42)
    }
}

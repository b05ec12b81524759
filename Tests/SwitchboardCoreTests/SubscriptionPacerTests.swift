import SwitchboardCore
import Testing

/// The per-subscription max rate, under a hand-moved clock.
struct SubscriptionPacerTests {
    private let second: UInt64 = 1_000_000_000

    @Test func theFirstPublicationGoesAtOnceAndTheNextWaitsForItsSlot() {
        var pacer = SubscriptionPacer<Int>(maxRate: 10)
        #expect(pacer.offer(1, key: nil, now: 0) == .send)
        #expect(pacer.offer(2, key: nil, now: 1) == .held(releaseAt: second / 10))
        #expect(pacer.release(now: second / 10 - 1) == nil)
        #expect(pacer.release(now: second / 10)?.items == [2])
    }

    @Test func overOneSecondOfFloodAtMostMaxRatePushesGoOut() {
        var pacer = SubscriptionPacer<Int>(maxRate: 10)
        var pushes = 0
        var delivered: [Int] = []
        // 1,000 publications spread evenly over one second, releases checked at every step.
        for step in 0..<1000 {
            let now = UInt64(step) * second / 1000
            if let released = pacer.release(now: now) {
                pushes += 1
                delivered += released.items
            }
            if pacer.offer(step, key: "AAPL", now: now) == .send {
                pushes += 1
                delivered.append(step)
            }
        }
        #expect(pushes == 10)
        #expect(delivered.count == 10)
        // The newest value is the one waiting for the next slot.
        #expect(pacer.release(now: second)?.items == [999])
    }

    @Test func aHeldPublicationIsReplacedByANewerOneWithTheSameKeyAndTheReleaseSaysSo() {
        var pacer = SubscriptionPacer<String>(maxRate: 1)
        _ = pacer.offer("AAPL@1", key: "AAPL", now: 0)
        _ = pacer.offer("AAPL@2", key: "AAPL", now: 10)
        _ = pacer.offer("MSFT@3", key: "MSFT", now: 20)
        _ = pacer.offer("AAPL@4", key: "AAPL", now: 30)
        let released = pacer.release(now: second)
        #expect(released?.items == ["MSFT@3", "AAPL@4"])
        #expect(released?.skipped == true)
        #expect(pacer.replacedCount == 1)
    }

    @Test func publicationsWithoutAKeyAreHeldTogetherAndNoneIsSkipped() {
        var pacer = SubscriptionPacer<Int>(maxRate: 2)
        _ = pacer.offer(1, key: nil, now: 0)
        for n in 2...5 { _ = pacer.offer(n, key: nil, now: UInt64(n)) }
        let released = pacer.release(now: second / 2)
        #expect(released?.items == [2, 3, 4, 5])
        #expect(released?.skipped == false)
    }

    @Test func theHoldingAreaIsBoundedForPublicationsWithoutAKey() {
        var pacer = SubscriptionPacer<Int>(maxRate: 1, maxHeld: 2)
        _ = pacer.offer(0, key: nil, now: 0)
        #expect(pacer.offer(1, key: nil, now: 1) != nil)
        #expect(pacer.offer(2, key: nil, now: 2) != nil)
        #expect(pacer.offer(3, key: nil, now: 3) == nil)
    }

    @Test func aQuietSubscriptionSendsAtOnceAgainAfterItsSlot() {
        var pacer = SubscriptionPacer<Int>(maxRate: 4)
        #expect(pacer.offer(1, key: nil, now: 0) == .send)
        #expect(pacer.offer(2, key: nil, now: second) == .send)
    }
}

import NIOCore
import Testing

@testable import SwitchboardCore

private let second: UInt64 = 1_000_000_000
private let channel = try! ChannelName(validating: "chat:room")

private func request(_ n: Int, sender: String? = nil, key: String? = nil) -> PublishRequest {
    PublishRequest(channel: channel, data: ByteBuffer(string: #"{"n":\#(n)}"#), sender: sender, idempotencyKey: key)
}

/// A window holding `count` publications, published one second apart starting at t = 1s.
private func window(
    epoch: String = "ep1", capacity: Int = 10, ttl: UInt64? = nil, publishing count: Int = 0
) -> HistoryWindow {
    var window = HistoryWindow(epoch: epoch, capacity: capacity, ttlNanoseconds: ttl)
    for n in 0..<count {
        _ = window.append(request(n + 1), now: UInt64(n + 1) * second)
    }
    return window
}

private func offsets(_ publications: [Publication]) -> [UInt64] {
    publications.map(\.offset)
}

/// Offset assignment, capacity, TTL expiry and every recovery decision of a channel's history window.
struct HistoryWindowTests {
    // MARK: Offsets

    @Test func anEmptyStreamIsAtOffsetZero() {
        let window = window()
        #expect(window.topOffset == 0)
        #expect(window.position == StreamPosition(epoch: "ep1", offset: 0))
        #expect(window.count == 0)
    }

    @Test func theFirstPublicationGetsOffsetOne() {
        var window = window()
        #expect(window.append(request(1), now: 0).offset == 1)
    }

    @Test func offsetsIncreaseByOnePerPublication() {
        var window = window()
        let assigned = (1...5).map { window.append(request($0), now: 0).offset }
        #expect(assigned == [1, 2, 3, 4, 5])
        #expect(window.position == StreamPosition(epoch: "ep1", offset: 5))
    }

    @Test func aPublicationCarriesTheWindowsEpochAndTheRequestsFields() {
        var window = window(epoch: "Xy7")
        let publication = window.append(request(1, sender: "alice", key: "k-1"), now: 0)
        #expect(publication.epoch == "Xy7")
        #expect(publication.channel == channel)
        #expect(String(buffer: publication.data) == #"{"n":1}"#)
        #expect(publication.sender == "alice")
        #expect(publication.idempotencyKey == "k-1")
        #expect(publication.position == StreamPosition(epoch: "Xy7", offset: 1))
    }

    // MARK: Capacity

    @Test func theWindowHoldsAtMostItsCapacity() {
        let window = window(capacity: 3, publishing: 10)
        #expect(window.count == 3)
        #expect(window.topOffset == 10)
    }

    @Test func theOldestPublicationsArePushedOutFirst() {
        var window = window(capacity: 3, publishing: 10)
        #expect(offsets(window.read(after: 0, limit: 100, now: 11 * second)) == [8, 9, 10])
    }

    @Test func zeroCapacityKeepsNothingButStillAssignsOffsets() {
        var window = window(capacity: 0, publishing: 4)
        #expect(window.count == 0)
        #expect(window.topOffset == 4)
        #expect(window.read(after: 0, limit: 100, now: 5 * second).isEmpty)
    }

    // MARK: TTL

    @Test func publicationsOlderThanTheTTLExpire() {
        // Published at 1s, 2s, 3s with a 2s TTL; at 4.5s the first is 3.5s old, the second 2.5s, the third 1.5s.
        var window = window(ttl: 2 * second, publishing: 3)
        window.expire(now: 4 * second + second / 2)
        #expect(window.count == 1)
        #expect(offsets(window.read(after: 0, limit: 10, now: 4 * second + second / 2)) == [3])
    }

    @Test func aPublicationExactlyAsOldAsTheTTLIsKept() {
        var window = window(ttl: 2 * second, publishing: 1)
        window.expire(now: 3 * second)
        #expect(window.count == 1)
        window.expire(now: 3 * second + 1)
        #expect(window.count == 0)
    }

    @Test func withoutATTLPublicationsNeverExpire() {
        var window = window(ttl: nil, publishing: 3)
        window.expire(now: UInt64.max)
        #expect(window.count == 3)
    }

    @Test func appendingExpiresOldPublications() {
        var window = window(ttl: second, publishing: 2)
        _ = window.append(request(3), now: 100 * second)
        #expect(window.count == 1)
        #expect(window.topOffset == 3)
    }

    @Test func expiryDoesNotChangeThePosition() {
        var window = window(ttl: second, publishing: 3)
        window.expire(now: 100 * second)
        #expect(window.count == 0)
        #expect(window.position == StreamPosition(epoch: "ep1", offset: 3))
    }

    @Test func aClockReadingEarlierThanAPublicationExpiresNothing() {
        var window = window(ttl: 10 * second, publishing: 3)
        window.expire(now: 0)
        #expect(window.count == 3)
    }

    // MARK: Recovery

    @Test func recoveryWithoutAPositionIsFresh() {
        var window = window(publishing: 3)
        let recovery = window.recover(since: nil, now: 4 * second)
        #expect(recovery.outcome == .fresh)
        #expect(recovery.position == StreamPosition(epoch: "ep1", offset: 3))
        #expect(recovery.publications.isEmpty)
        #expect(!recovery.recovered)
    }

    @Test func recoveryReturnsExactlyTheMissedPublications() {
        var window = window(publishing: 5)
        let recovery = window.recover(since: StreamPosition(epoch: "ep1", offset: 2), now: 6 * second)
        #expect(recovery.outcome == .recovered)
        #expect(recovery.recovered)
        #expect(offsets(recovery.publications) == [3, 4, 5])
        #expect(recovery.publications.map { String(buffer: $0.data) } == [#"{"n":3}"#, #"{"n":4}"#, #"{"n":5}"#])
        #expect(recovery.position == StreamPosition(epoch: "ep1", offset: 5))
    }

    @Test func recoveryFromOffsetZeroReturnsTheWholeStreamWhenItIsAllHeld() {
        var window = window(publishing: 3)
        let recovery = window.recover(since: StreamPosition(epoch: "ep1", offset: 0), now: 4 * second)
        #expect(recovery.outcome == .recovered)
        #expect(offsets(recovery.publications) == [1, 2, 3])
    }

    @Test func recoveryWithNothingMissedIsRecoveredWithNoPublications() {
        var window = window(publishing: 3)
        let recovery = window.recover(since: StreamPosition(epoch: "ep1", offset: 3), now: 4 * second)
        #expect(recovery.outcome == .recovered)
        #expect(recovery.publications.isEmpty)
        #expect(recovery.position == StreamPosition(epoch: "ep1", offset: 3))
    }

    @Test func recoveryOnAnEmptyStreamAtOffsetZeroIsRecovered() {
        var window = window()
        let recovery = window.recover(since: StreamPosition(epoch: "ep1", offset: 0), now: 0)
        #expect(recovery.outcome == .recovered)
        #expect(recovery.publications.isEmpty)
    }

    @Test func recoveryWithNothingMissedSucceedsEvenWithZeroCapacity() {
        var window = window(capacity: 0, publishing: 3)
        let recovery = window.recover(since: StreamPosition(epoch: "ep1", offset: 3), now: 4 * second)
        #expect(recovery.outcome == .recovered)
    }

    @Test func recoveryWithNothingMissedSucceedsAfterEverythingExpired() {
        var window = window(ttl: second, publishing: 3)
        let recovery = window.recover(since: StreamPosition(epoch: "ep1", offset: 3), now: 100 * second)
        #expect(recovery.outcome == .recovered)
        #expect(window.count == 0)
    }

    @Test func recoveryFromAnotherEpochResets() {
        var window = window(publishing: 3)
        let recovery = window.recover(since: StreamPosition(epoch: "old", offset: 2), now: 4 * second)
        #expect(recovery.outcome == .reset(.epochChanged))
        #expect(recovery.publications.isEmpty)
        #expect(recovery.position == StreamPosition(epoch: "ep1", offset: 3))
    }

    @Test func anotherEpochResetsAsEpochChangedEvenWhenTheOffsetIsAhead() {
        var window = window(publishing: 3)
        let recovery = window.recover(since: StreamPosition(epoch: "old", offset: 99), now: 4 * second)
        #expect(recovery.outcome == .reset(.epochChanged))
    }

    @Test func recoveryFromAPositionAheadOfTheStreamResets() {
        var window = window(publishing: 3)
        let recovery = window.recover(since: StreamPosition(epoch: "ep1", offset: 4), now: 4 * second)
        #expect(recovery.outcome == .reset(.positionAhead))
        #expect(recovery.publications.isEmpty)
        #expect(recovery.position == StreamPosition(epoch: "ep1", offset: 3))
    }

    @Test func recoveryBeyondTheWindowResets() {
        var window = window(capacity: 3, publishing: 10)  // holds 8, 9, 10
        let recovery = window.recover(since: StreamPosition(epoch: "ep1", offset: 6), now: 11 * second)
        #expect(recovery.outcome == .reset(.outsideWindow))
        #expect(recovery.publications.isEmpty)
        #expect(recovery.position == StreamPosition(epoch: "ep1", offset: 10))
    }

    @Test func recoveryFromJustBeforeTheOldestHeldPublicationSucceeds() {
        var window = window(capacity: 3, publishing: 10)  // holds 8, 9, 10
        let recovery = window.recover(since: StreamPosition(epoch: "ep1", offset: 7), now: 11 * second)
        #expect(recovery.outcome == .recovered)
        #expect(offsets(recovery.publications) == [8, 9, 10])
    }

    @Test func recoveryWithZeroCapacityAndMissedPublicationsResets() {
        var window = window(capacity: 0, publishing: 3)
        let recovery = window.recover(since: StreamPosition(epoch: "ep1", offset: 2), now: 4 * second)
        #expect(recovery.outcome == .reset(.outsideWindow))
    }

    @Test func recoveryAfterTheMissedPublicationsExpiredResets() {
        // Published at 1s…5s with a 2.5s TTL; at 6s offsets 4 and 5 remain.
        var window = window(ttl: 2 * second + second / 2, publishing: 5)
        let recovery = window.recover(since: StreamPosition(epoch: "ep1", offset: 2), now: 6 * second)
        #expect(recovery.outcome == .reset(.outsideWindow))
    }

    @Test func recoveryOfPublicationsStillWithinTheTTLSucceeds() {
        var window = window(ttl: 2 * second + second / 2, publishing: 5)
        let recovery = window.recover(since: StreamPosition(epoch: "ep1", offset: 3), now: 6 * second)
        #expect(recovery.outcome == .recovered)
        #expect(offsets(recovery.publications) == [4, 5])
    }

    @Test func recoveryOfMorePublicationsThanTheLimitResets() {
        var window = window(publishing: 5)
        let recovery = window.recover(since: StreamPosition(epoch: "ep1", offset: 1), limit: 3, now: 6 * second)
        #expect(recovery.outcome == .reset(.tooManyMissed))
        #expect(recovery.publications.isEmpty)
        #expect(recovery.position == StreamPosition(epoch: "ep1", offset: 5))
    }

    @Test func recoveryOfExactlyTheLimitSucceeds() {
        var window = window(publishing: 5)
        let recovery = window.recover(since: StreamPosition(epoch: "ep1", offset: 2), limit: 3, now: 6 * second)
        #expect(recovery.outcome == .recovered)
        #expect(offsets(recovery.publications) == [3, 4, 5])
    }

    @Test func aZeroLimitStillRecoversWhenNothingWasMissed() {
        var window = window(publishing: 5)
        let recovery = window.recover(since: StreamPosition(epoch: "ep1", offset: 5), limit: 0, now: 6 * second)
        #expect(recovery.outcome == .recovered)
    }

    @Test func resetReasonsHaveHumanReadableText() {
        let reasons: [Recovery.ResetReason] = [.epochChanged, .positionAhead, .outsideWindow, .tooManyMissed, .invalidPosition]
        #expect(Set(reasons.map(\.rawValue)).count == reasons.count)
        #expect(reasons.allSatisfy { !$0.rawValue.isEmpty })
    }

    // MARK: read(after:limit:)

    @Test func readReturnsPublicationsAfterTheGivenOffsetOldestFirst() {
        var window = window(publishing: 5)
        #expect(offsets(window.read(after: 2, limit: 10, now: 6 * second)) == [3, 4, 5])
    }

    @Test func readAfterZeroStartsFromTheOldestHeld() {
        var window = window(capacity: 2, publishing: 5)
        #expect(offsets(window.read(after: 0, limit: 10, now: 6 * second)) == [4, 5])
    }

    @Test func readReturnsAtMostTheLimit() {
        var window = window(publishing: 5)
        #expect(offsets(window.read(after: 1, limit: 2, now: 6 * second)) == [2, 3])
    }

    @Test func readWithZeroLimitReturnsNothing() {
        var window = window(publishing: 5)
        #expect(window.read(after: 0, limit: 0, now: 6 * second).isEmpty)
    }

    @Test func readAfterTheNewestOffsetReturnsNothing() {
        var window = window(publishing: 5)
        #expect(window.read(after: 5, limit: 10, now: 6 * second).isEmpty)
        #expect(window.read(after: 50, limit: 10, now: 6 * second).isEmpty)
    }

    @Test func readSkipsExpiredPublications() {
        var window = window(ttl: 2 * second, publishing: 5)
        #expect(offsets(window.read(after: 0, limit: 10, now: 6 * second)) == [4, 5])
    }
}

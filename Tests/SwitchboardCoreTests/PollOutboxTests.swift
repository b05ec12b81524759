import NIOCore
import SwitchboardCore
import Testing

@Suite struct PollOutboxTests {
    private func outbox(maxBytes: Int = 1 << 20, maxMessages: Int = 100, messages: [String]) -> PollOutbox {
        var outbox = PollOutbox(maxBytes: maxBytes, maxMessages: maxMessages)
        for message in messages {
            let added = outbox.append(ByteBuffer(string: message))
            #expect(added)
        }
        return outbox
    }

    @Test func aResponseListsTheMessagesAfterTheAcknowledgedOneAndNamesTheLast() {
        let box = outbox(messages: ["1", "2", "3"])
        let response = box.response(after: 1, byteBudget: 1000)
        #expect(String(buffer: response.body) == #"{"seq":3,"messages":[2,3]}"#)
        #expect(response.count == 2)
    }

    @Test func anEmptyResponseRepeatsTheAcknowledgedSequence() {
        let box = outbox(messages: ["1"])
        #expect(String(buffer: box.response(after: 1, byteBudget: 1000).body) == #"{"seq":1,"messages":[]}"#)
    }

    @Test func messagesStayUntilAcknowledged() {
        var box = outbox(messages: ["1", "2"])
        _ = box.response(after: 0, byteBudget: 1000)
        #expect(box.count == 2)
        box.acknowledge(through: 1)
        #expect(box.count == 1)
        #expect(String(buffer: box.response(after: 0, byteBudget: 1000).body) == #"{"seq":2,"messages":[2]}"#)
    }

    @Test func theByteBudgetSplitsABatchButAlwaysIncludesOneMessage() {
        let box = outbox(messages: ["\"aaaa\"", "\"bbbb\""])
        #expect(box.response(after: 0, byteBudget: 8).count == 1)
        #expect(box.response(after: 0, byteBudget: 1).count == 1)
        #expect(box.response(after: 0, byteBudget: 12).count == 2)
    }

    @Test func aFullOutboxRefusesMoreButAcceptsAForcedFinalMessage() {
        var box = outbox(maxMessages: 2, messages: ["1", "2"])
        let overflowing = box.append(ByteBuffer(string: "3"))
        let forced = box.append(ByteBuffer(string: "4"), force: true)
        #expect(!overflowing && forced)
        #expect(box.lastSequence == 3)
        var bytes = outbox(maxBytes: 3, messages: ["12"])
        let tooBig = bytes.append(ByteBuffer(string: "34"))
        bytes.acknowledge(through: 1)
        let fitsNow = bytes.append(ByteBuffer(string: "34"))
        #expect(!tooBig && fitsNow)
    }

    @Test func hasMessagesAfterTellsWhetherAParkedPollCanBeAnswered() {
        var box = outbox(messages: ["1"])
        #expect(box.hasMessages(after: 0))
        #expect(!box.hasMessages(after: 1))
        box.acknowledge(through: 1)
        #expect(!box.hasMessages(after: 0))
    }
}

@Suite struct IdempotencyWindowTests {
    private let channel = try! ChannelName(validating: "chat:x")

    private func request(_ key: String?) -> PublishRequest {
        PublishRequest(channel: channel, data: ByteBuffer(string: "1"), idempotencyKey: key)
    }

    private func window(retention: Duration = .seconds(10), keys: Int = 100) -> HistoryWindow {
        HistoryWindow(
            epoch: "e", capacity: 10, ttlNanoseconds: nil,
            idempotency: HistoryPolicy(capacity: 10, ttl: nil, idempotencyRetention: retention, idempotencyCapacity: keys).idempotencyWindow)
    }

    @Test func aRepeatedKeyReturnsTheOriginalPublicationAndAppendsNothing() {
        var history = window()
        let first = history.publish(request("k"), now: 0)
        let again = history.publish(request("k"), now: 1)
        #expect(!first.isDuplicate && again.isDuplicate)
        #expect(again.publication.offset == first.publication.offset)
        #expect(history.topOffset == 1)
    }

    @Test func publishesWithoutAKeyAreNeverDeduplicated() {
        var history = window()
        _ = history.publish(request(nil), now: 0)
        let second = history.publish(request(nil), now: 0)
        #expect(!second.isDuplicate)
        #expect(history.topOffset == 2)
    }

    @Test func aKeyIsForgottenAfterTheRetention() {
        var history = window(retention: .seconds(1))
        _ = history.publish(request("k"), now: 0)
        let within = history.publish(request("k"), now: 500_000_000)
        let after = history.publish(request("k"), now: 1_500_000_001)
        #expect(within.isDuplicate && !after.isDuplicate)
    }

    @Test func beyondItsCapacityTheOldestKeyIsForgottenFirst() {
        var history = window(keys: 2)
        for key in ["a", "b", "c"] { _ = history.publish(request(key), now: 0) }
        let oldest = history.publish(request("a"), now: 0)
        let newest = history.publish(request("c"), now: 0)
        #expect(!oldest.isDuplicate && newest.isDuplicate)
    }

    @Test func aZeroRetentionTurnsDeduplicationOff() {
        var history = window(retention: .zero)
        _ = history.publish(request("k"), now: 0)
        let again = history.publish(request("k"), now: 0)
        #expect(!again.isDuplicate)
    }
}

import SwitchboardCore
import Testing

struct ReceiptRecordTests {
    @Test func thePublisherIsNeverItsOwnRecipient() {
        var record = ReceiptRecord(publisher: "alice", recipients: ["alice", "bob"], maxRecipients: 10)
        #expect(Array(record.recipients.keys) == ["bob"])
        #expect(record.acknowledge(user: "alice", status: .read) == nil)
    }

    @Test func eachChangeIsReportedOnce() {
        var record = ReceiptRecord(publisher: "alice", recipients: ["bob"], maxRecipients: 10)
        #expect(record.acknowledge(user: "bob", status: .delivered) == .delivered)
        #expect(record.acknowledge(user: "bob", status: .delivered) == nil)
        #expect(record.acknowledge(user: "bob", status: .read) == .read)
        #expect(record.acknowledge(user: "bob", status: .read) == nil)
        #expect(record.recipients["bob"] == .init(delivered: true, read: true))
    }

    @Test func readingImpliesDelivery() {
        var record = ReceiptRecord(publisher: "alice", recipients: ["bob"], maxRecipients: 10)
        _ = record.acknowledge(user: "bob", status: .read)
        #expect(record.counts.delivered == 1 && record.counts.read == 1)
    }

    @Test func aUserWhoRecoveredItLaterBecomesARecipient() {
        var record = ReceiptRecord(publisher: "alice", recipients: ["bob"], maxRecipients: 10)
        #expect(record.acknowledge(user: "carol", status: .delivered) == .delivered)
        #expect(record.counts.recipients == 2)
    }

    @Test func beyondTheBoundOnlyCountsAreKept() {
        var record = ReceiptRecord(publisher: nil, recipients: ["a", "b", "c"], maxRecipients: 2)
        #expect(record.truncated)
        #expect(record.recipients.count == 2)
        _ = record.acknowledge(user: "z", status: .delivered)
        _ = record.acknowledge(user: "y", status: .read)
        #expect(record.recipients.count == 2)
        #expect(record.counts.delivered == 2)
        #expect(record.counts.read == 1)
    }
}

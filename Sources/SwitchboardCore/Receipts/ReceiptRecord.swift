/// Delivery and read state of one publication that asked for receipts, per recipient user.
///
/// Recipients are the users subscribed when it was published (the publisher excluded), plus users who acknowledge it
/// later while it is still in the channel's history (they recovered it). Beyond `maxRecipients` users the record
/// stops naming them and only counts acknowledgements: memory stays bounded for huge channels, at the price of
/// exactness (a user acknowledging twice is then counted twice). Codable: durable engines store it with its publication.
public struct ReceiptRecord: Sendable, Codable {
    public enum Status: String, Sendable, Codable {
        case delivered, read
    }

    public struct RecipientState: Sendable, Equatable, Codable {
        public var delivered = false
        public var read = false

        public init(delivered: Bool = false, read: Bool = false) {
            self.delivered = delivered
            self.read = read
        }
    }

    public let publisher: String?
    public let maxRecipients: Int
    private(set) public var recipients: [String: RecipientState]
    /// Counting mode: true once more users than `maxRecipients` were involved.
    private(set) public var truncated = false
    private var extraDelivered = 0
    private var extraRead = 0

    public init(publisher: String?, recipients: some Sequence<String>, maxRecipients: Int) {
        self.publisher = publisher
        self.maxRecipients = max(maxRecipients, 0)
        var states: [String: RecipientState] = [:]
        for user in recipients where user != publisher {
            if states.count == self.maxRecipients {
                truncated = true
                continue
            }
            states[user] = RecipientState()
        }
        self.recipients = states
    }

    /// Records that `user` got (or read) the publication; the status to announce when something changed.
    public mutating func acknowledge(user: String, status: Status) -> Status? {
        guard user != publisher else { return nil }
        guard var state = recipients[user] else {
            guard recipients.count < maxRecipients else {
                truncated = true
                if status == .read { extraRead += 1 } else { extraDelivered += 1 }
                return status
            }
            recipients[user] = RecipientState(delivered: true, read: status == .read)
            return status
        }
        switch status {
        case .delivered:
            guard !state.delivered else { return nil }
            state.delivered = true
        case .read:
            guard !state.read else { return nil }
            // Reading implies delivery.
            state.delivered = true
            state.read = true
        }
        recipients[user] = state
        return status
    }

    public var counts: (recipients: Int, delivered: Int, read: Int) {
        let named = recipients.values
        return (
            recipients.count + (truncated ? max(extraDelivered, extraRead) : 0),
            named.filter(\.delivered).count + extraDelivered + extraRead,
            named.filter(\.read).count + extraRead
        )
    }
}

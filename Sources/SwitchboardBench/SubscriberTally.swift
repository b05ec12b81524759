import Foundation

/// What one subscriber received: every sequence number seen once, so loss, duplicates and reordering are exact.
///
/// A tally outlives its connection: a reconnect-storm client keeps counting into the same tally after it comes back,
/// so a publication recovered twice (before and after the drop) shows up as a duplicate. Only touched on its
/// subscriber's event loop, hence `@unchecked Sendable`.
final class SubscriberTally: @unchecked Sendable {
    let channelIndex: Int
    /// Set once the subscription is confirmed; only those subscribers are expected to receive anything.
    var subscribed = false
    private(set) var delivered = 0
    private(set) var duplicated = 0
    private(set) var outOfOrder = 0
    private var highest = -1
    private var seen: [UInt64]

    /// Stream position named by the last subscribe reply (`epoch`, `offset`), to resume from with `since`.
    private(set) var epoch: String?
    private(set) var offset = 0
    /// The last subscribe reply asked to resume and the server answered `recovered: false` (a reset).
    private(set) var wasReset = false

    /// Echo mode: this subscriber publishes to its own channel, so it expects exactly what the hub accepted from it.
    var publishedByItself = 0
    var ownPublicationsAccepted = 0
    var ownPublicationsRefused = 0

    /// Reconnect storm: deliveries that complete the recovery, and when (monotonic nanoseconds) they were reached.
    var recoveryTarget: Int?
    var recoveredAtUptime: UInt64?

    init(channelIndex: Int, expectedSequences: Int) {
        self.channelIndex = channelIndex
        self.seen = [UInt64](repeating: 0, count: expectedSequences / 64 + 1)
    }

    /// Counts one delivery of `sequence`.
    @inline(__always)
    func record(sequence: Int) {
        let word = sequence >> 6
        if word >= seen.count { seen.append(contentsOf: repeatElement(0, count: word - seen.count + 1)) }
        let bit = UInt64(1) << UInt64(sequence & 63)
        if seen[word] & bit != 0 {
            duplicated += 1
            return
        }
        seen[word] |= bit
        delivered += 1
        if sequence < highest { outOfOrder += 1 } else { highest = sequence }
    }

    /// Publications of this subscriber's channel that the server accepted (sequences below `expected`) but never
    /// arrived here.
    func lost(ofExpected expected: Int) -> Int {
        var received = 0
        for sequence in 0..<expected where sequence >> 6 < seen.count {
            if seen[sequence >> 6] & (UInt64(1) << UInt64(sequence & 63)) != 0 { received += 1 }
        }
        return expected - received
    }

    /// Reads `epoch`, `offset` and `recovered` of a subscribe reply (once per connection, so plain string search).
    func noteSubscribeReply(_ text: String) {
        if let value = Self.member("epoch", in: text) { epoch = value.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        if let value = Self.member("offset", in: text), let number = Int(value) { offset = number }
        wasReset = Self.member("recovered", in: text) == "false"
    }

    /// The subscribe command's `since` member resuming from the last known position, or "" before any reply.
    var sinceMember: String {
        guard let epoch else { return "" }
        return #","since":{"epoch":"\#(epoch)","offset":\#(offset)}"#
    }

    private static func member(_ name: String, in text: String) -> String? {
        guard let key = text.range(of: "\"\(name)\":") else { return nil }
        let rest = text[key.upperBound...]
        return String(rest.prefix { $0 != "," && $0 != "}" })
    }
}

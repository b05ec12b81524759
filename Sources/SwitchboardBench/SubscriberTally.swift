/// What one subscriber received: every sequence number seen once, so loss, duplicates and reordering are exact.
final class SubscriberTally {
    let channelIndex: Int
    /// Set once the subscription is confirmed; only those subscribers are expected to receive anything.
    var subscribed = false
    private(set) var delivered = 0
    private(set) var duplicated = 0
    private(set) var outOfOrder = 0
    private var highest = -1
    private var seen: [UInt64]

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
}

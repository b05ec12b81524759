/// Loss, duplicates and reordering added up over every subscriber, against what the server accepted per channel.
struct DeliveryTotals: Sendable, Codable {
    var expected = 0
    var delivered = 0
    var lost = 0
    var duplicated = 0
    var outOfOrder = 0
    var subscribersWithLoss = 0

    /// Adds the subscribers of one loop; `accepted[c]` is how many publications channel c took.
    mutating func add(_ tallies: [SubscriberTally], accepted: [Int]) {
        for tally in tallies where tally.subscribed || tally.recoveryTarget != nil {
            let expectedHere = tally.publishedByItself > 0 ? tally.ownPublicationsAccepted : accepted[tally.channelIndex]
            let lostHere = tally.lost(ofExpected: expectedHere)
            expected += expectedHere
            delivered += tally.delivered
            lost += lostHere
            duplicated += tally.duplicated
            outOfOrder += tally.outOfOrder
            if lostHere > 0 { subscribersWithLoss += 1 }
        }
    }

    /// Adds another loop's totals.
    mutating func add(_ other: DeliveryTotals) {
        expected += other.expected
        delivered += other.delivered
        lost += other.lost
        duplicated += other.duplicated
        outOfOrder += other.outOfOrder
        subscribersWithLoss += other.subscribersWithLoss
    }

    /// Totals over every loop's subscribers, each loop counted on its own thread.
    static func collect(_ stats: [LoopStats], accepted: [Int]) async throws -> DeliveryTotals {
        var totals = DeliveryTotals()
        for stat in stats {
            totals.add(
                try await stat.loop.submit {
                    var part = DeliveryTotals()
                    part.add(stat.tallies, accepted: accepted)
                    return part
                }.get())
        }
        return totals
    }
}

/// How one bench subscriber reaches the hub.
enum SubscriberTransport: Sendable {
    case webSocket, sse, poll

    /// One transport per subscriber, the kinds interleaved evenly (a mix shares channels and event loops alike).
    static func plan(webSocket: Int, sse: Int, poll: Int) -> [SubscriberTransport] {
        let wanted: [(SubscriberTransport, Int)] = [(.webSocket, webSocket), (.sse, sse), (.poll, poll)]
        let total = webSocket + sse + poll
        var given = [0, 0, 0]
        var plan: [SubscriberTransport] = []
        plan.reserveCapacity(total)
        for index in 0..<total {
            // The kind furthest behind its even share so far goes next.
            var best = 0
            var bestDeficit = -Double.infinity
            for (kind, (_, count)) in wanted.enumerated() where given[kind] < count {
                let deficit = Double(index + 1) * Double(count) / Double(total) - Double(given[kind])
                if deficit > bestDeficit {
                    best = kind
                    bestDeficit = deficit
                }
            }
            given[best] += 1
            plan.append(wanted[best].0)
        }
        return plan
    }
}

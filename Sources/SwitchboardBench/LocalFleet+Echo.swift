import NIOCore

/// Echo mode: round trips through the hub, each client publishing to its own channel.
extension LocalFleet {
    /// Every echo client publishes to its own channel on one open-loop schedule per event loop (the fleet's rate
    /// split by the loop's share of clients), one flush per client per tick.
    func runEcho() async throws -> FleetResult {
        markPhaseStart()
        let total = max(1, options.subscribers)
        var schedules: [EventLoopFuture<Void>] = []
        for stat in stats {
            let names = channelNames
            let options = self.options
            let target = self.target
            schedules.append(
                stat.loop.flatSubmit {
                    let clients = stat.echoClients
                    guard !clients.isEmpty else { return stat.loop.makeSucceededVoidFuture() }
                    let count = options.publicationCount * clients.count / total
                    let rate = Double(options.publishRate) * Double(clients.count) / Double(total)
                    return EchoSchedule(loop: stat.loop, clients: clients, count: count, rate: rate) { client in
                        let sequence = client.tally.publishedByItself
                        let data = PayloadStamp.data(sequence: sequence, timestamp: WallClock.nanoseconds(), size: options.payloadBytes)
                        return target.publishCommand(id: sequence + 2, channel: names[client.tally.channelIndex], data: data)
                    }.run()
                })
        }
        for schedule in schedules { try await schedule.get() }
        try await drain {
            let (published, answered, delivered, accepted) = try await self.echoCounts()
            return answered >= published && delivered >= accepted
        }
        return try await result(accepted: Array(repeating: 0, count: channelNames.count))
    }

    private func echoCounts() async throws -> (published: Int, answered: Int, delivered: Int, accepted: Int) {
        var counts = (0, 0, 0, 0)
        for stat in stats {
            let part = try await stat.loop.submit {
                stat.tallies.reduce((0, 0, 0, 0)) {
                    (
                        $0.0 + $1.publishedByItself, $0.1 + $1.ownPublicationsAccepted + $1.ownPublicationsRefused, $0.2 + $1.delivered,
                        $0.3 + $1.ownPublicationsAccepted
                    )
                }
            }.get()
            counts = (counts.0 + part.0, counts.1 + part.1, counts.2 + part.2, counts.3 + part.3)
        }
        return counts
    }
}

import Foundation
import NIOCore

/// Reconnect storm: everyone drops at once, publications are made while they are away, everyone comes back at once.
extension LocalFleet {
    /// Drops every subscriber at once, publishes `missedPublications` per channel through the HTTP API while they
    /// are away, then reconnects them all at once, each resuming from the position of its subscribe reply.
    func runStorm() async throws -> FleetResult {
        // Drop: every connection closed on purpose, so none counts as closed early.
        for stat in stats {
            try await stat.loop.submit {
                stat.closing = true
                for channel in stat.channels.values { channel.close(promise: nil) }
            }.get()
        }
        let dropDeadline = Date().addingTimeInterval(10)
        while try await openConnections() > 0, Date() < dropDeadline { try await Task.sleep(for: .milliseconds(20)) }

        let publisher = Publisher(
            loop: stats[0].loop, options: options, publicationCount: options.missedPublications * channelNames.count,
            rate: options.publishRate, protocolOf: target, channelNames: channelNames)
        try await stats[0].loop.flatSubmit { publisher.connect(count: 1) }.get()
        try await stats[0].loop.flatSubmit { publisher.run() }.get()
        let answerDeadline = Date().addingTimeInterval(60)
        while try await stats[0].loop.submit({ publisher.outstanding }).get() > 0, Date() < answerDeadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let (accepted, published, refused) = try await stats[0].loop.submit {
            publisher.close()
            return (publisher.accepted, publisher.publicationsSent, publisher.refused)
        }.get()

        // Reconnect: everyone at once, no ramp; a resumed subscription's missed publications follow its reply.
        markPhaseStart()
        var reconnecting = 0
        var subscriber = 0
        for stat in stats {
            reconnecting += try await stat.loop.submit {
                stat.closing = false
                stat.established = 0
                stat.recoveryStartUptime = NIODeadline.now().uptimeNanoseconds
                var count = 0
                for tally in stat.tallies where tally.subscribed {
                    tally.subscribed = false
                    tally.recoveryTarget = accepted[tally.channelIndex]
                    count += 1
                }
                return count
            }.get()
        }
        for stat in stats {
            let tallies = try await stat.loop.submit { stat.tallies.filter { $0.recoveryTarget != nil } }.get()
            for tally in tallies {
                open(subscriber: subscriber % plan.count, on: stat, tally: tally)
                subscriber += 1
            }
        }
        let recoverDeadline = Date().addingTimeInterval(options.connectTimeout + 60)
        while Date() < recoverDeadline {
            let (recovered, failed, resets) = try await stormProgress()
            if options.progress { progressLine("recovering: \(recovered)/\(reconnecting) recovered, \(resets) reset", try await snapshot()) }
            if recovered + failed + resets >= reconnecting { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        // Anything arriving after full recovery would be a duplicate: give it the drain time to show up.
        try await Task.sleep(for: .seconds(min(options.drainSeconds, 2)))
        var result = try await result(accepted: accepted)
        let (recovered, _, resets) = try await stormProgress()
        result.resets = resets
        result.missedPerChannel = accepted
        result.ownPublished = published
        result.ownAccepted = accepted.reduce(0, +)
        result.ownRefused = refused
        if recovered == reconnecting {
            var slowest: UInt64 = 0
            var start: UInt64 = 0
            for stat in stats {
                let (latest, began) = try await stat.loop.submit {
                    (stat.tallies.compactMap(\.recoveredAtUptime).max() ?? 0, stat.recoveryStartUptime)
                }.get()
                slowest = max(slowest, latest)
                start = start == 0 ? began : min(start, began)
            }
            result.allRecoveredSeconds = Double(slowest > start ? slowest - start : 0) / 1e9
        }
        return result
    }

    private func openConnections() async throws -> Int {
        var open = 0
        for stat in stats { open += try await stat.loop.submit { stat.channels.count }.get() }
        return open
    }

    private func stormProgress() async throws -> (recovered: Int, failed: Int, resets: Int) {
        var progress = (0, 0, 0)
        for stat in stats {
            let part = try await stat.loop.submit {
                (stat.recovered, stat.failed + stat.closedEarly, stat.tallies.filter { $0.subscribed && $0.wasReset }.count)
            }.get()
            progress = (progress.0 + part.0, progress.1 + part.1, progress.2 + part.2)
        }
        return progress
    }
}

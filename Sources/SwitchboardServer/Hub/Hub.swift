import NIOConcurrencyHelpers
import NIOCore
import SwitchboardBroker
import SwitchboardCore

/// Fans each publication out to the event loops that have subscribers for its channel.
///
/// The broker calls ``deliver(_:)`` in offset order per channel (under that channel's lock). The hub encodes the
/// publication once and makes one `execute` per interested event loop; FIFO task queues keep the order. Each
/// ``LoopHub`` then writes the shared buffers to its own subscribers without locks.
final class Hub: PublicationSink {
    let loopHubs: [LoopHub]
    private let loopIndex: [ObjectIdentifier: Int]
    /// Which loops have at least one subscriber for a channel. Updated only on a loop's first subscribe and last
    /// unsubscribe of a channel, so the publish path reads it without contention in the common case.
    private let interest = NIOLockedValueBox<[ChannelName: [Bool]]>([:])
    let metrics: ServerMetrics
    private let nextPlacement = NIOLockedValueBox(0)
    /// Where revocations are kept (``apply(control:)``); nil in tests that have no tokens.
    private let tokens: TokenVerifier?

    init(
        loops: [any EventLoop], metrics: ServerMetrics, heartbeat: HeartbeatSettings, writeDelay: TimeAmount = .zero, tokens: TokenVerifier? = nil
    ) {
        self.metrics = metrics
        self.tokens = tokens
        var hubs: [LoopHub] = []
        var index: [ObjectIdentifier: Int] = [:]
        for (position, loop) in loops.enumerated() {
            index[ObjectIdentifier(loop)] = position
            hubs.append(LoopHub(loop: loop, index: position, metrics: metrics, heartbeat: heartbeat, writeDelay: writeDelay))
        }
        self.loopHubs = hubs
        self.loopIndex = index
        for hub in hubs { hub.setInterestSink(self) }
    }

    /// The hub of the loop a connection lives on.
    func loopHub(for loop: any EventLoop) -> LoopHub {
        guard let index = loopIndex[ObjectIdentifier(loop)] else {
            preconditionFailure("connection on an event loop the hub was not built for")
        }
        return loopHubs[index]
    }

    /// A loop for a session that has no connection of its own (long-poll), round robin.
    func nextLoopHub() -> LoopHub {
        let index = nextPlacement.withLockedValue { next in
            defer { next = (next + 1) % loopHubs.count }
            return next
        }
        return loopHubs[index]
    }

    func deliver(_ publication: Publication) {
        let loops = interest.withLockedValue { $0[publication.channel] }
        guard let loops else { return }
        let encoded = EncodedPublication(publication, receivedAt: NIODeadline.now().uptimeNanoseconds)
        for (index, interested) in loops.enumerated() where interested {
            let loopHub = loopHubs[index]
            loopHub.loop.execute { loopHub.deliver(encoded) }
        }
    }

    /// Presence joins/leaves and signals: the push was encoded where the event arose; loops forward the same bytes.
    func deliver(event: EphemeralEvent) {
        let loops = interest.withLockedValue { $0[event.channel] }
        guard let loops else { return }
        for (index, interested) in loops.enumerated() where interested {
            let loopHub = loopHubs[index]
            loopHub.loop.execute { loopHub.deliver(event: event) }
        }
    }

    /// An operator's order (`POST /api/disconnect`, `POST /api/revoke`), from this node's API or another node: a
    /// revocation is kept first, so a session cannot reconnect with the token while the others are being ended; then
    /// every loop ends its matching sessions.
    func apply(control command: ControlCommand) {
        if case .revokeToken(let id, let until) = command { tokens?.revoke(tokenID: id, until: until) }
        for loopHub in loopHubs {
            loopHub.loop.execute { loopHub.endSessions(matching: command) }
        }
    }

    func hasSubscribers(_ channel: ChannelName) -> Bool {
        interest.withLockedValue { $0[channel] != nil }
    }

    func setInterest(_ channel: ChannelName, loop index: Int, _ interested: Bool) {
        let count = loopHubs.count
        interest.withLockedValue { map in
            var flags = map[channel] ?? Array(repeating: false, count: count)
            flags[index] = interested
            if flags.contains(true) { map[channel] = flags } else { map[channel] = nil }
        }
    }
}

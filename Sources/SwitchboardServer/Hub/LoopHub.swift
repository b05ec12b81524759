import NIOCore
import SwitchboardCore

struct HeartbeatSettings: Sendable {
    var interval: TimeAmount
    var timeout: TimeAmount

    /// How often a loop checks its sessions' heartbeats: often enough to keep deadlines within a quarter interval.
    var sweepPeriod: TimeAmount {
        .nanoseconds(min(max(interval.nanoseconds / 4, 5_000_000), 1_000_000_000))
    }
}

/// One event loop's share of the hub: its sessions, their subscriptions, and the coalesced flush.
///
/// Confined to `loop`: every method runs on it (checked in debug builds), so there are no locks on the delivery path.
/// That confinement is also why the class may be `@unchecked Sendable`: other threads only ever reach it through
/// `loop.execute`.
final class LoopHub: @unchecked Sendable {
    let loop: any EventLoop
    let index: Int
    let metrics: ServerMetrics
    private let heartbeat: HeartbeatSettings
    private unowned(unsafe) var hub: Hub?

    private var subscribers: [ChannelName: SubscriberList] = [:]
    private var sessions: [ObjectIdentifier: Session] = [:]
    private var needFlush: [Session] = []
    private var flushScheduled = false
    private var sweeper: RepeatedTask?
    private var pendingDeliveries = 0
    private var pendingBytes = 0
    /// This tick's delivered publications: when the hub received each, and its deliveries per transport. Turned into
    /// latency observations at the flush, which is when they reach the sockets.
    private var pendingLatency: [(receivedAt: UInt64, deliveries: DeliveriesByTransport)] = []
    /// Publications read from history, encoded once for every session of this loop that recovers them (a reconnect
    /// storm makes thousands of sessions recover the same ones at once). Bounded, oldest out first.
    private var recentlyEncoded = RecentCache<PublicationID, EncodedPublication>(maxEntries: 4096, maxCost: 8 << 20)

    private struct PublicationID: Hashable {
        var channel: ChannelName
        var epoch: String
        var offset: UInt64
    }

    /// `server.write_delay_ms`: zero flushes at the end of the tick that wrote.
    private let writeDelay: TimeAmount

    init(loop: any EventLoop, index: Int, metrics: ServerMetrics, heartbeat: HeartbeatSettings, writeDelay: TimeAmount = .zero) {
        self.loop = loop
        self.index = index
        self.metrics = metrics
        self.heartbeat = heartbeat
        self.writeDelay = writeDelay
    }

    func setInterestSink(_ hub: Hub) { self.hub = hub }

    // MARK: sessions

    func register(_ session: Session) {
        loop.assertInEventLoop()
        sessions[ObjectIdentifier(session)] = session
        if sweeper == nil {
            sweeper = loop.scheduleRepeatedTask(initialDelay: heartbeat.sweepPeriod, delay: heartbeat.sweepPeriod) { [self] _ in
                self.sweepHeartbeats()
            }
        }
    }

    func unregister(_ session: Session) {
        loop.assertInEventLoop()
        sessions[ObjectIdentifier(session)] = nil
        if sessions.isEmpty {
            sweeper?.cancel()
            sweeper = nil
        }
    }

    /// Ends the sessions an operator's order names, with its close code (``ControlCommand``).
    func endSessions(matching command: ControlCommand) {
        loop.assertInEventLoop()
        // A copy: a session that closes at once unregisters itself while the loop runs.
        for session in sessions.values where command.ends(client: session.id, user: session.user, tokenID: session.identity?.tokenID) {
            session.disconnect(command.closeCode)
        }
    }

    // MARK: subscriptions

    func subscribe(_ session: Session, to channel: ChannelName, subscription: Session.Subscription) {
        loop.assertInEventLoop()
        if subscribers[channel] == nil {
            subscribers[channel] = SubscriberList()
            hub?.setInterest(channel, loop: index, true)
        }
        if subscribers[channel]!.add(session, subscription) {
            metrics.subscriptions.increment()
            metrics.namespaceSubscriptions(session.kind, channel).increment()
        }
    }

    func unsubscribe(_ session: Session, from channel: ChannelName) {
        loop.assertInEventLoop()
        // Mutated in place: a copy taken out of the dictionary would make the removal copy the whole list (every
        // subscriber of the channel) while the dictionary still holds it — quadratic when thousands leave at once.
        guard subscribers[channel]?.remove(session) == true else { return }
        metrics.subscriptions.decrement()
        metrics.namespaceSubscriptions(session.kind, channel).decrement()
        if subscribers[channel]?.isEmpty == true {
            subscribers[channel] = nil
            hub?.setInterest(channel, loop: index, false)
        }
    }

    // MARK: delivery

    func deliver(_ publication: EncodedPublication) {
        loop.assertInEventLoop()
        guard let list = subscribers[publication.channel] else { return }
        var delivered = DeliveriesByTransport()
        for entry in list.entries {
            if entry.session.deliver(publication, to: entry.subscription) {
                pendingDeliveries += 1
                pendingBytes += publication.jsonPush.readableBytes
                delivered.add(entry.kind)
            }
        }
        if !delivered.isEmpty { pendingLatency.append((publication.receivedAt, delivered)) }
    }

    /// The encoded form of a publication read from history: shared with other sessions of this loop that recover it.
    func encodedFromHistory(_ publication: Publication) -> EncodedPublication {
        loop.assertInEventLoop()
        let id = PublicationID(channel: publication.channel, epoch: publication.epoch, offset: publication.offset)
        if let encoded = recentlyEncoded[id] { return encoded }
        let encoded = EncodedPublication(publication)
        recentlyEncoded.insert(encoded, for: id, cost: encoded.encodedBytes)
        return encoded
    }

    func deliver(event: EphemeralEvent) {
        loop.assertInEventLoop()
        guard let list = subscribers[event.channel] else { return }
        for entry in list.entries { entry.session.deliver(event: event) }
    }

    /// Asks for one flush of `session` at the end of this loop tick.
    func scheduleFlush(_ session: Session) {
        needFlush.append(session)
        guard !flushScheduled else { return }
        flushScheduled = true
        guard writeDelay == .zero else {
            // Publications arriving within the delay join each socket's pending write (see OutboundPipe).
            loop.scheduleTask(in: writeDelay) { [self] in self.flushAll() }
            return
        }
        // Tasks already queued (more publications of this burst) run first, so a burst costs one flush per socket.
        loop.execute { [self] in self.flushAll() }
    }

    private func flushAll() {
        flushScheduled = false
        let sessions = needFlush
        needFlush.removeAll(keepingCapacity: true)
        for session in sessions { session.flush() }
        if pendingDeliveries > 0 {
            metrics.deliveries.increment(by: Int64(pendingDeliveries))
            metrics.bytesOut.increment(by: Int64(pendingBytes))
            pendingDeliveries = 0
            pendingBytes = 0
        }
        if !pendingLatency.isEmpty {
            // One clock read and one lock per tick, however many deliveries it carried.
            let now = NIODeadline.now().uptimeNanoseconds
            metrics.deliveryLatency.record(pendingLatency.map { (now &- min($0.receivedAt, now), $0.deliveries) })
            pendingLatency.removeAll(keepingCapacity: true)
        }
    }

    // MARK: heartbeats

    private func sweepHeartbeats() {
        let now = NIODeadline.now()
        for session in sessions.values {
            session.checkHeartbeat(now: now, interval: heartbeat.interval, timeout: heartbeat.timeout)
        }
    }
}

/// Sessions subscribed to one channel on one loop, each with its subscription: an array for fast iteration, an index
/// for O(1) removal.
private struct SubscriberList {
    struct Entry {
        let session: Session
        var subscription: Session.Subscription
        /// The session's transport, kept here so the delivery loop counts per transport without touching the session.
        let kind: TransportKind
    }

    private(set) var entries: [Entry] = []
    private var positions: [ObjectIdentifier: Int] = [:]

    var isEmpty: Bool { entries.isEmpty }

    /// Adds `session`, or replaces its subscription; true when it was not in the list before.
    mutating func add(_ session: Session, _ subscription: Session.Subscription) -> Bool {
        let id = ObjectIdentifier(session)
        if let position = positions[id] {
            entries[position].subscription = subscription
            return false
        }
        positions[id] = entries.count
        entries.append(Entry(session: session, subscription: subscription, kind: session.kind))
        return true
    }

    mutating func remove(_ session: Session) -> Bool {
        guard let position = positions.removeValue(forKey: ObjectIdentifier(session)) else { return false }
        let last = entries.removeLast()
        if position < entries.count {
            entries[position] = last
            positions[ObjectIdentifier(last.session)] = position
        }
        return true
    }
}

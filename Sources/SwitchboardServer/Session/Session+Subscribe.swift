import NIOCore
import SwitchboardBroker
import SwitchboardCore

/// Subscribing and unsubscribing: permission and token checks, the recovery read joined with live delivery, and the
/// subscription's end (presence leave included).
extension Session {
    /// One subscription's state. A class so that the loop hub's subscriber list can hand it straight back with each
    /// delivery: no dictionary lookup (and no hashing of the channel name) per delivered message.
    final class Subscription {
        var stream = SubscriptionStream<EncodedPublication>()
        let generation: UInt64
        /// Whether this session is listed in the channel's presence (left again when the subscription ends).
        let joinsPresence: Bool
        /// Whether presence joins and leaves are pushed to this session.
        let seesPresence: Bool
        /// Events that arrive before the subscribe reply wait here, so they follow the reply (and its snapshot).
        var pendingEvents: [EphemeralEvent]? = []
        /// The namespace conflates: waiting publications with the same key are replaced by the newest.
        let conflates: Bool
        /// The subscription's max rate, when it has one; its timer releases held publications.
        var pacer: SubscriptionPacer<EncodedPublication>?
        var pacerTimer: Scheduled<Void>?

        init(generation: UInt64, joinsPresence: Bool, seesPresence: Bool, conflates: Bool) {
            self.generation = generation
            self.joinsPresence = joinsPresence
            self.seesPresence = seesPresence
            self.conflates = conflates
        }
    }

    /// Presence members listed in a subscribe reply; the `presence` command pages through the rest.
    static let snapshotPageSize = 100

    /// Where a subscription was asked for, so its start is announced the right way.
    enum SubscribeOrigin {
        case command(id: Int64)
        case stream
    }

    /// Subscribes without a command (SSE and raw endpoints); the transport hears about the start position.
    func subscribeFromStream(_ channel: ChannelName, since: StreamPosition?) {
        startSubscription(channel, since: since, origin: .stream)
    }

    /// What a `subscribe` command asks of its subscription besides where it starts.
    struct SubscribeChoices {
        /// At most this many pushes per second (conflating or holding in between); nil: the namespace's.
        var maxRate: Int?
        /// The member's presence info on this channel; nil takes the connection's (`connect` command's `info`).
        var info: ByteBuffer?
        /// False: the subscription sees the channel's presence without joining it.
        var join = true
    }

    func subscribe(id: Int64, channel: ChannelName, since: StreamPosition?, token: String?, choices: SubscribeChoices) {
        if subscriptions[channel] != nil { return refuse(id, ProtocolError(.alreadySubscribed, "already subscribed to \(channel)")) }
        let limit = services.settings.configuration.limits.maxSubscriptionsPerConnection
        guard subscriptions.count < limit else {
            return refuse(id, ProtocolError(.tooManySubscriptions, "a connection may hold at most \(limit) subscriptions"))
        }
        guard let token else {
            if let error = services.channels.checkSubscribe(channel, identity: identity) { return refuse(id, error) }
            engineCallStarted()
            return startSubscription(channel, since: since, origin: .command(id: id), choices: choices)
        }
        engineCallStarted()
        let verifier = services.tokens
        let user = self.user
        perform({ await verifier.checkSubscriptionToken(token, channel: channel, user: user) }) { session, tokenError in
            if let error = tokenError ?? session.services.channels.checkSubscribe(channel, identity: session.identity, hasSubscriptionToken: true) {
                session.refuse(id, error)
                session.engineCallFinished()
                return
            }
            session.startSubscription(channel, since: since, origin: .command(id: id), choices: choices)
        }
    }

    func unsubscribe(id: Int64, channel: ChannelName) {
        guard let subscription = subscriptions.removeValue(forKey: channel) else {
            return refuse(id, ProtocolError(.notSubscribed, "not subscribed to \(channel)"))
        }
        endSubscription(channel, subscription)
        send(Pushes.reply(id: id))
    }

    /// Stops live delivery and timers, and leaves presence if the subscription joined it.
    func endSubscription(_ channel: ChannelName, _ subscription: Subscription) {
        loopHub.unsubscribe(self, from: channel)
        subscription.pacerTimer?.cancel()
        if subscription.joinsPresence { leavePresence(channel) }
    }

    /// Subscriptions of one session are numbered, so a late answer for an earlier one of the same channel is ignored.
    private func nextGeneration() -> UInt64 {
        lastGeneration += 1
        return lastGeneration
    }

    private struct SubscriptionStart: Sendable {
        var recovery: Recovery
        var presence: PresencePage?
    }

    private func startSubscription(_ channel: ChannelName, since: StreamPosition?, origin: SubscribeOrigin, choices: SubscribeChoices = .init()) {
        let generation = nextGeneration()
        let options = (try? services.channels.options(for: channel).get()) ?? NamespaceOptions()
        let seesPresence = Permissions.presence(channel, options: options, identity: identity) == nil
        // Receipts need to know who is subscribed, so receipt namespaces track membership like presence does.
        let joinsPresence = (options.presence || options.receipts) && choices.join
        let subscription = Subscription(
            generation: generation, joinsPresence: joinsPresence, seesPresence: seesPresence, conflates: options.conflation)
        if let rate = choices.maxRate ?? (options.maxRate > 0 ? options.maxRate : nil) {
            subscription.pacer = SubscriptionPacer(maxRate: rate, maxHeld: services.settings.limits.outboundQueueMessages)
        }
        subscriptions[channel] = subscription
        let member = joinsPresence ? PresenceMember(client: id, user: user, info: choices.info ?? client.info) : nil
        let announce = options.presence && options.joinLeave
        // The snapshot goes in a command's reply; stream subscriptions (SSE URL channels) have no reply to carry it.
        let wantsSnapshot: Bool
        if case .command = origin { wantsSnapshot = seesPresence } else { wantsSnapshot = false }
        // Live delivery starts before the history read, so nothing published in between is missed (duplicates are
        // dropped by the subscription stream).
        loopHub.subscribe(self, to: channel, subscription: subscription)
        let broker = services.engine
        let limit = services.settings.maxRecovery
        let start: @Sendable () async throws -> SubscriptionStart = {
            let recovery = try await broker.recover(channel: channel, since: since, limit: limit)
            var snapshot: PresencePage?
            if let member { _ = try await broker.presenceJoin(member, channel: channel, announce: announce) }
            if wantsSnapshot { snapshot = try await broker.presence(channel: channel, after: nil, limit: Session.snapshotPageSize) }
            return SubscriptionStart(recovery: recovery, presence: snapshot)
        }
        let resumes = since != nil
        let finish = { (session: Session, result: Result<SubscriptionStart, ProtocolError>) in
            session.finishSubscription(channel, generation: generation, origin: origin, resumes: resumes, result: result)
        }
        // A join runs in this session's presence order, so the leave of the same subscription can never overtake it.
        if member != nil {
            live.presenceOrder.run(on: self, operation: "recover", start, then: finish)
        } else {
            performEngineCall("recover", start, then: finish)
        }
    }

    /// - Parameter resumes: the client gave a position to continue from (its recovery outcome is counted).
    private func finishSubscription(
        _ channel: ChannelName, generation: UInt64, origin: SubscribeOrigin, resumes: Bool, result: Result<SubscriptionStart, ProtocolError>
    ) {
        defer { if case .command = origin { engineCallFinished() } }
        guard !isClosed, let subscription = subscriptions[channel], subscription.generation == generation else { return }
        switch result {
        case .failure(let error):
            subscriptions[channel] = nil
            endSubscription(channel, subscription)
            services.metrics.error(error.code)
            if case .command(let id) = origin { send(Pushes.error(id: id, error)) } else { disconnect(.internalError) }
        case .success(let start):
            var recovery = start.recovery
            if resumes { services.metrics.recovered(kind, exactly: recovery.recovered) }
            // A stream's client saw its start (101, response headers) before the read: what arrived live since is its.
            var freshItems: [EncodedPublication]?
            if case .stream = origin, case .fresh = recovery.outcome {
                let (position, items) = subscription.stream.completeFreshStart(position: recovery.position)
                recovery.position = position
                freshItems = items
            }
            switch origin {
            case .command(let id):
                send(
                    Pushes.reply(id: id) { writer in
                        Pushes.writeSubscribed(channel: channel, recovery: recovery, into: &writer)
                        if let options = try? services.channels.options(for: channel).get(), options.allowSignals {
                            // Clients throttle their own signals to it, so the server never has to hold one back.
                            let interval = options.signalInterval.components
                            writer.key("signal_interval_ms")
                            writer.int(interval.seconds * 1000 + interval.attoseconds / 1_000_000_000_000_000)
                        }
                        if let page = start.presence {
                            writer.key("presence")
                            writer.beginObject()
                            Pushes.writePresencePage(page, into: &writer)
                            writer.endObject()
                        }
                    })
            case .stream:
                transport?.subscriptionStarted(channel, recovery: recovery)
                requestFlush()
            }
            let waiting = subscription.pendingEvents ?? []
            subscription.pendingEvents = nil
            for event in waiting { send(event.push) }
            var missed = recovery.publications
            if subscription.conflates {
                // A conflating channel recovers the latest value per key, not every intermediate one.
                let latest = Conflation.latestPerKey(missed)
                if latest.count < missed.count { send(Pushes.conflated(channel: channel)) }
                missed = latest
            }
            let history = missed.map { loopHub.encodedFromHistory($0) }
            let toSend = freshItems ?? subscription.stream.completeRecovery(history: history, position: recovery.position)
            for publication in toSend {
                guard pace(publication) != .failed else { break }
            }
        }
    }

    /// A live publication skipped offsets (a shared engine's delivery raced or lost some): the missing ones are read
    /// from history and sent first, the subscription holding what arrives meanwhile; when history no longer has them,
    /// the client is told to reset and continues from the current position.
    func fillGap(_ channel: ChannelName, _ subscription: Subscription, after: StreamPosition) {
        services.metrics.gapsFilled.increment()
        let broker = services.engine
        let limit = services.settings.maxRecovery
        let generation = subscription.generation
        performEngineCall("recover", { try await broker.recover(channel: channel, since: after, limit: limit) }) { session, result in
            guard !session.isClosed, let subscription = session.subscriptions[channel], subscription.generation == generation else { return }
            switch result {
            case .failure(let error):
                // Without the missing publications the stream cannot continue in order: the client reconnects and
                // recovers from its last position.
                session.services.metrics.error(error.code)
                session.disconnect(.internalError)
            case .success(let recovery):
                if !recovery.recovered { session.announceReset(channel, recovery) }
                let history = recovery.publications.map { session.loopHub.encodedFromHistory($0) }
                for publication in subscription.stream.completeRecovery(history: history, position: recovery.position) {
                    guard session.pace(publication) != .failed else { break }
                }
            }
        }
    }

    /// Tells the client that a subscription's stream restarted at `recovery.position` (`reset` push, or the SSE
    /// transport's own `reset` event).
    func announceReset(_ channel: ChannelName, _ recovery: Recovery) {
        services.metrics.streamResets.increment()
        if transport?.subscriptionReset(channel, recovery: recovery) != true {
            send(Pushes.streamStart(type: "reset", channel: channel, recovery: recovery))
        }
        requestFlush()
    }
}

import NIOCore
import SwitchboardBroker
import SwitchboardCore

/// One client's session: subscriptions with their stream positions, the command queue, heartbeat state.
///
/// Transport-agnostic: WebSocket, SSE and the raw endpoints drive the same session through ``SessionTransport``.
/// Confined to its connection's event loop; async engine calls hop back to it through a `NIOLoopBound` box.
final class Session {
    /// Consecutive undecodable commands tolerated before the connection is closed with ``CloseCode/badProtocol``.
    static let maxConsecutiveMalformedCommands = 16
    /// Commands queued behind a pending engine call before further ones are refused.
    static let maxQueuedCommands = 1024

    let id: String
    /// The secret that HTTP requests name this session by (SSE and long-poll only). Not the client id: that one may
    /// be shown to other clients (presence), and knowing it must not let anyone send commands as this session.
    let address: String?
    let kind: TransportKind
    let services: HubServices
    let loopHub: LoopHub
    private(set) var transport: (any SessionTransport)?
    /// Who the client proved to be with a token; nil for an anonymous session.
    private(set) var identity: Identity?
    /// What the client told others about itself (`connect` command's `info`), shown in presence.
    private var info: ByteBuffer?
    /// Signals held back by the per-type interval: the latest of each (channel, type), sent when the interval ends.
    private var signalGates: [SignalKey: SignalGate] = [:]
    var user: String? { identity?.user }
    /// When the server asked for a token refresh (wall-clock seconds), while waiting for it.
    private var refreshRequestedAt: Int64?

    /// One subscription's state. A class so that the loop hub's subscriber list can hand it straight back with each
    /// delivery: no dictionary lookup (and no hashing of the channel name) per delivered message.
    final class Subscription {
        fileprivate var stream = SubscriptionStream<EncodedPublication>()
        fileprivate let generation: UInt64
        /// Whether this session is listed in the channel's presence (left again when the subscription ends).
        fileprivate let joinsPresence: Bool
        /// Whether presence joins and leaves are pushed to this session.
        fileprivate let seesPresence: Bool
        /// Events that arrive before the subscribe reply wait here, so they follow the reply (and its snapshot).
        fileprivate var pendingEvents: [EphemeralEvent]? = []
        /// The namespace conflates: waiting publications with the same key are replaced by the newest.
        fileprivate let conflates: Bool
        /// The subscription's max rate, when it has one; its timer releases held publications.
        fileprivate var pacer: SubscriptionPacer<EncodedPublication>?
        fileprivate var pacerTimer: Scheduled<Void>?

        fileprivate init(generation: UInt64, joinsPresence: Bool, seesPresence: Bool, conflates: Bool) {
            self.generation = generation
            self.joinsPresence = joinsPresence
            self.seesPresence = seesPresence
            self.conflates = conflates
        }
    }

    /// Events buffered per starting subscription at most; they are ephemeral, so the excess is dropped.
    static let maxPendingEvents = 256
    /// Presence members listed in a subscribe reply; the `presence` command pages through the rest.
    static let snapshotPageSize = 100

    /// Where a subscription was asked for, so its start is announced the right way.
    private enum SubscribeOrigin {
        case command(id: Int64)
        case stream
    }

    private var subscriptions: [ChannelName: Subscription] = [:]
    private var nextGeneration: UInt64 = 0
    /// Work waiting its turn: commands, and publishes from the raw endpoint (which have no reply).
    private enum Work {
        case command(CommandEnvelope)
        case publishWithoutReply(PublishRequest)
    }

    /// Made when the first command has to wait for an engine call: most sessions never queue one, and an idle
    /// connection should cost no allocation for it.
    private var commands: CircularBuffer<Work>?
    private var awaitingEngine = false
    private var malformedInARow = 0
    /// Commands refused in a row for exceeding the rate; persistent abuse ends the connection.
    private var rateLimitedInARow = 0
    static let maxConsecutiveRateLimitedCommands = 20
    private var commandBudget: TokenBucket?
    /// The user counted against `limits.max_connections_per_user`, released when the session closes.
    private var countedUser: String?
    private var flushRequested = false
    private(set) var isClosed = false

    private var lastInbound = NIODeadline.now()
    private var lastHeartbeat = NIODeadline.now()
    private var awaitingPongSince: NIODeadline?

    /// - Parameter userAdmitted: whether `identity`'s user was already counted against the per-user connection limit
    ///   (tokens that came with the upgrade are admitted before it).
    init(kind: TransportKind, services: HubServices, loopHub: LoopHub, transport: any SessionTransport, identity: Identity?, userAdmitted: Bool) {
        self.id = SessionID.make()
        self.address = kind.takesHTTPCommands ? SessionID.make() + SessionID.make() : nil
        self.identity = identity
        self.countedUser = userAdmitted ? identity?.user : nil
        let rate = services.settings.configuration.limits.commandsPerSecond
        if rate > 0 { commandBudget = TokenBucket(rate: Double(rate), burst: Double(rate * 2), now: MonotonicTime.nanoseconds()) }
        self.kind = kind
        self.services = services
        self.loopHub = loopHub
        self.transport = transport
        loopHub.register(self)
        if kind.takesHTTPCommands { services.sessions.register(self) }
        services.sessionOpened()
        services.metrics.connectionOpened(kind)
        services.audit.record("connection_opened", ["session": id, "transport": kind.rawValue, "user": identity?.user])
    }

    /// Ends the connection with a reason the client can act on, and records why.
    func disconnect(_ code: CloseCode) {
        services.audit.record("disconnected", ["session": id, "user": user, "code": String(code.rawValue), "reason": code.reason])
        transport?.disconnect(code)
    }

    var subscriptionCount: Int { subscriptions.count }

    /// Releases subscriptions and registrations. Idempotent.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        for (channel, subscription) in subscriptions {
            loopHub.unsubscribe(self, from: channel)
            subscription.pacerTimer?.cancel()
            if subscription.joinsPresence { leavePresence(channel) }
        }
        for gate in signalGates.values { gate.timer?.cancel() }
        signalGates.removeAll()
        subscriptions.removeAll()
        commands = nil
        loopHub.unregister(self)
        if kind.takesHTTPCommands { services.sessions.unregister(self) }
        transport = nil
        services.metrics.connectionClosed(kind)
        services.sessionClosed()
        if let countedUser { services.connections.release(user: countedUser) }
        services.audit.record("connection_closed", ["session": id, "user": user])
    }

    // MARK: output

    func requestFlush() {
        guard !flushRequested, !isClosed else { return }
        flushRequested = true
        loopHub.scheduleFlush(self)
    }

    func flush() {
        flushRequested = false
        transport?.flush()
    }

    private func send(_ message: ByteBuffer) {
        transport?.send(message: message)
        requestFlush()
    }

    /// A live publication from the hub for one of this session's subscriptions. Returns true when it was written.
    func deliver(_ publication: EncodedPublication, to subscription: Subscription) -> Bool {
        guard !isClosed, let item = subscription.stream.receive(publication) else { return false }
        guard subscription.pacer != nil else { return write(item, conflates: subscription.conflates) }
        return pace(item) == .written
    }

    private enum PaceOutcome {
        case written, held, failed
    }

    /// Sends a publication now, or holds it when the subscription's max rate says so.
    private func pace(_ publication: EncodedPublication) -> PaceOutcome {
        let channel = publication.channel
        guard let subscription = subscriptions[channel] else { return .failed }
        guard subscription.pacer != nil else { return write(publication, conflates: subscription.conflates) ? .written : .failed }
        let key = subscription.conflates ? publication.publication.key : nil
        let now = MonotonicTime.nanoseconds()
        switch subscription.pacer!.offer(publication, key: key, now: now) {
        case .send:
            subscriptions[channel] = subscription
            return write(publication, conflates: subscription.conflates) ? .written : .failed
        case .held(let releaseAt):
            if subscription.pacerTimer == nil {
                let session = NIOLoopBound(self, eventLoop: loopHub.loop)
                let generation = subscription.generation
                subscription.pacerTimer = loopHub.loop.scheduleTask(in: .nanoseconds(Int64(releaseAt - min(now, releaseAt)))) {
                    session.value.releaseHeld(channel, generation: generation)
                }
            }
            subscriptions[channel] = subscription
            return .held
        case nil:
            subscriptions[channel] = subscription
            services.metrics.slowConsumerDisconnects.increment()
            disconnect(.slowConsumer)
            return .failed
        }
    }

    /// A max-rate slot opened: the held publications go out, after a `conflated` notice if some were replaced.
    private func releaseHeld(_ channel: ChannelName, generation: UInt64) {
        guard !isClosed, let subscription = subscriptions[channel], subscription.generation == generation else { return }
        subscription.pacerTimer = nil
        let released = subscription.pacer?.release(now: MonotonicTime.nanoseconds())
        subscriptions[channel] = subscription
        guard let released else { return }
        if released.skipped {
            services.metrics.conflated.increment()
            send(Pushes.conflated(channel: channel))
        }
        for publication in released.items {
            guard write(publication, conflates: subscription.conflates) else { break }
        }
    }

    private func write(_ publication: EncodedPublication, conflates: Bool) -> Bool {
        guard let transport else { return false }
        guard transport.send(publication: publication, conflates: conflates) else { return false }
        requestFlush()
        return true
    }

    /// A presence join/leave or a signal on a subscribed channel.
    func deliver(event: EphemeralEvent) {
        guard !isClosed, let subscription = subscriptions[event.channel] else { return }
        if let target = event.targetUser {
            guard target == user else { return }
        } else if event.kind != .signal && !subscription.seesPresence {
            return
        }
        if var pending = subscription.pendingEvents {
            guard pending.count < Self.maxPendingEvents else { return }
            pending.append(event)
            subscription.pendingEvents = pending
            subscriptions[event.channel] = subscription
            return
        }
        send(event.push)
    }

    // MARK: heartbeats

    func noteInbound() {
        lastInbound = .now()
        awaitingPongSince = nil
    }

    func checkHeartbeat(now: NIODeadline, interval: TimeAmount, timeout: TimeAmount) {
        guard let transport, !isClosed else { return }
        if let expiresAt = identity?.expiresAt { checkTokenExpiry(expiresAt, transport: transport) }
        guard !isClosed else { return }
        if let since = awaitingPongSince, now - since > timeout {
            services.metrics.heartbeatTimeouts.increment()
            disconnect(.heartbeatTimeout)
            return
        }
        let quietSince = transport.answersHeartbeats ? max(lastInbound, lastHeartbeat) : lastHeartbeat
        guard awaitingPongSince == nil, now - quietSince >= interval else { return }
        lastHeartbeat = now
        if transport.answersHeartbeats { awaitingPongSince = now }
        transport.sendHeartbeat()
        requestFlush()
    }

    /// An expired token gets one `refresh` push; without a refresh within the grace period the session ends (4502).
    private func checkTokenExpiry(_ expiresAt: Int64, transport: any SessionTransport) {
        let now = services.verifier.currentTime
        guard now > expiresAt + services.verifier.validator.leeway else { return }
        let grace = services.settings.configuration.auth.refreshGrace.components.seconds
        if let asked = refreshRequestedAt {
            if now > asked + max(grace, 1) { disconnect(.tokenExpired) }
            return
        }
        refreshRequestedAt = now
        let graceMilliseconds = Int64(TimeAmount(services.settings.configuration.auth.refreshGrace).nanoseconds / 1_000_000)
        send(Pushes.refresh(graceMilliseconds: graceMilliseconds))
    }

    // MARK: subscriptions

    /// Subscribes without a command (SSE and raw endpoints); the transport hears about the start position.
    func subscribeFromStream(_ channel: ChannelName, since: StreamPosition?) {
        startSubscription(channel, since: since, origin: .stream)
    }

    private func startSubscription(_ channel: ChannelName, since: StreamPosition?, origin: SubscribeOrigin, maxRate: Int? = nil) {
        nextGeneration += 1
        let generation = nextGeneration
        let options = (try? services.options(for: channel).get()) ?? NamespaceOptions()
        let seesPresence = Permissions.presence(channel, options: options, identity: identity) == nil
        // Receipts need to know who is subscribed, so receipt namespaces track membership like presence does.
        let joinsPresence = options.presence || options.receipts
        let subscription = Subscription(
            generation: generation, joinsPresence: joinsPresence, seesPresence: seesPresence, conflates: options.conflation)
        if let rate = maxRate ?? (options.maxRate > 0 ? options.maxRate : nil) {
            subscription.pacer = SubscriptionPacer(maxRate: rate, maxHeld: services.settings.limits.outboundQueueMessages)
        }
        subscriptions[channel] = subscription
        let member = joinsPresence ? PresenceMember(client: id, user: user, info: info) : nil
        let announce = options.presence && options.joinLeave
        // The snapshot goes in a command's reply; stream subscriptions (SSE URL channels) have no reply to carry it.
        let wantsSnapshot: Bool
        if case .command = origin { wantsSnapshot = seesPresence } else { wantsSnapshot = false }
        // Live delivery starts before the history read, so nothing published in between is missed (duplicates are
        // dropped by the subscription stream).
        loopHub.subscribe(self, to: channel, subscription: subscription)
        let broker = services.broker
        let limit = services.settings.maxRecovery
        let loop = loopHub.loop
        let session = NIOLoopBound(self, eventLoop: loop)
        Task {
            let result: Result<SubscriptionStart, any Error>
            do {
                let recovery = try await broker.recover(channel: channel, since: since, limit: limit)
                var snapshot: PresencePage?
                if let member {
                    _ = try await broker.presenceJoin(member, channel: channel, announce: announce)
                    if wantsSnapshot { snapshot = try await broker.presence(channel: channel, after: nil, limit: Session.snapshotPageSize) }
                }
                result = .success(SubscriptionStart(recovery: recovery, presence: snapshot))
            } catch {
                result = .failure(error)
            }
            loop.execute {
                session.value.finishSubscription(channel, generation: generation, origin: origin, result: result)
            }
        }
    }

    private struct SubscriptionStart: Sendable {
        var recovery: Recovery
        var presence: PresencePage?
    }

    private func leavePresence(_ channel: ChannelName) {
        let broker = services.broker
        let client = id
        let options = try? services.options(for: channel).get()
        let announce = (options?.presence ?? false) && (options?.joinLeave ?? true)
        Task { try? await broker.presenceLeave(client: client, channel: channel, announce: announce) }
    }

    private func finishSubscription(
        _ channel: ChannelName, generation: UInt64, origin: SubscribeOrigin, result: Result<SubscriptionStart, any Error>
    ) {
        defer { if case .command = origin { engineCallFinished() } }
        guard !isClosed, let subscription = subscriptions[channel], subscription.generation == generation else { return }
        switch result {
        case .failure:
            loopHub.unsubscribe(self, from: channel)
            if subscription.joinsPresence { leavePresence(channel) }
            subscriptions[channel] = nil
            let error = ProtocolError(.internalError, "engine failed to read history")
            services.metrics.error(error.code)
            if case .command(let id) = origin { send(Pushes.error(id: id, error)) } else { disconnect(.internalError) }
        case .success(let start):
            let recovery = start.recovery
            switch origin {
            case .command(let id):
                send(
                    Pushes.reply(id: id) { writer in
                        Pushes.writeSubscribed(channel: channel, recovery: recovery, into: &writer)
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
            let toSend = subscription.stream.completeRecovery(history: history, positionOffset: recovery.position.offset)
            subscriptions[channel] = subscription
            for publication in toSend {
                guard pace(publication) != .failed else { break }
            }
        }
    }

    // MARK: commands

    /// One command's text (a WebSocket text message or an HTTP command body).
    func receive(command text: ByteBuffer) {
        guard !isClosed else { return }
        if commandBudget?.take(now: MonotonicTime.nanoseconds()) == false {
            let commandID = try? CommandDecoder.decode(text).get().id
            services.metrics.error(.rateLimited)
            send(
                Pushes.error(
                    id: commandID,
                    ProtocolError(
                        .rateLimited, "more than \(services.settings.configuration.limits.commandsPerSecond) commands per second; slow down")))
            rateLimitedInARow += 1
            if rateLimitedInARow == Self.maxConsecutiveRateLimitedCommands {
                services.audit.record("limit_hit", ["limit": "commands_per_second", "session": id, "user": user])
                disconnect(.rateLimited)
            }
            return
        }
        rateLimitedInARow = 0
        switch CommandDecoder.decode(text) {
        case .failure(let failure):
            services.metrics.error(failure.error.code)
            send(Pushes.error(id: failure.id, failure.error))
            malformedInARow += 1
            if malformedInARow >= Self.maxConsecutiveMalformedCommands { disconnect(.badProtocol) }
        case .success(let envelope):
            malformedInARow = 0
            if case .pong = envelope.command { return }
            guard enqueue(.command(envelope)) else {
                services.metrics.error(.badRequest)
                send(Pushes.error(id: envelope.id, ProtocolError(.badRequest, "too many commands waiting; wait for replies")))
                return
            }
            runCommands()
        }
    }

    /// A command that could not even be turned into JSON (a broken MessagePack frame): refused like malformed JSON.
    func receive(undecodableCommand reason: String) {
        guard !isClosed else { return }
        services.metrics.error(.malformedJSON)
        send(Pushes.error(id: nil, ProtocolError(.malformedJSON, reason)))
        malformedInARow += 1
        if malformedInARow >= Self.maxConsecutiveMalformedCommands { disconnect(.badProtocol) }
    }

    /// Publishes a raw endpoint's message in arrival order; refusals are counted, not answered (there is no reply).
    func receive(rawPublish request: PublishRequest) {
        guard !isClosed else { return }
        guard enqueue(.publishWithoutReply(request)) else {
            services.metrics.error(.badRequest)
            return
        }
        runCommands()
    }

    /// False when `maxQueuedCommands` are already waiting.
    private func enqueue(_ work: Work) -> Bool {
        guard (commands?.count ?? 0) < Self.maxQueuedCommands else { return false }
        if commands == nil { commands = CircularBuffer(initialCapacity: 4) }
        commands!.append(work)
        return true
    }

    /// Runs queued commands in order; one engine call at a time keeps replies (and publish offsets) in command order.
    private func runCommands() {
        while !awaitingEngine, !isClosed, let work = commands?.popFirst() {
            switch work {
            case .command(let envelope):
                execute(envelope)
            case .publishWithoutReply(let request):
                awaitingEngine = true
                publish(request) { session, _ in session.engineCallFinished() }
            }
        }
    }

    private func engineCallFinished() {
        awaitingEngine = false
        runCommands()
    }

    private func refuse(_ id: Int64, _ error: ProtocolError) {
        services.metrics.error(error.code)
        send(Pushes.error(id: id, error))
    }

    private func execute(_ envelope: CommandEnvelope) {
        guard let id = envelope.id else { return }
        switch envelope.command {
        case .pong:
            return
        case .ping:
            send(Pushes.reply(id: id))
        case .connect(let token, let info, let batch):
            if let info { self.info = info }
            transport?.setBatching(batch)
            guard let token else { return replyConnected(id) }
            awaitingEngine = true
            let verifier = services.verifier
            perform({ await verifier.connectionIdentity(token) }) { session, result in
                defer { session.engineCallFinished() }
                switch result {
                case .success(let identity):
                    if let user = identity?.user, user != session.countedUser {
                        if let error = session.services.connections.admit(user: user) {
                            session.refuse(id, error)
                            session.disconnect(.rateLimited)
                            return
                        }
                        if let previous = session.countedUser { session.services.connections.release(user: previous) }
                        session.countedUser = user
                    }
                    session.identity = identity
                    session.replyConnected(id)
                case .failure(let error):
                    session.refuse(id, error)
                    session.disconnect(error.code == .tokenExpired ? .tokenExpired : .invalidToken)
                }
            }
        case .refresh(let token):
            awaitingEngine = true
            let verifier = services.verifier
            perform({ await verifier.connectionIdentity(token) }) { session, result in
                defer { session.engineCallFinished() }
                let installed = result.flatMap { identity -> Result<Identity?, ProtocolError> in
                    if let error = session.installRefreshed(identity) { return .failure(error) }
                    return .success(identity)
                }
                switch installed {
                case .success(let identity):
                    session.send(
                        Pushes.reply(id: id) { writer in
                            if let expires = identity?.expiresAt { writer.key("expires"); writer.int(expires) }
                        })
                case .failure(let error):
                    session.refuse(id, error)
                }
            }
        case .subscribe(let channel, let since, let token, let maxRate):
            if subscriptions[channel] != nil { return refuse(id, ProtocolError(.alreadySubscribed, "already subscribed to \(channel)")) }
            let limit = services.settings.configuration.limits.maxSubscriptionsPerConnection
            guard subscriptions.count < limit else {
                return refuse(id, ProtocolError(.tooManySubscriptions, "a connection may hold at most \(limit) subscriptions"))
            }
            guard let token else {
                if let error = services.checkSubscribe(channel, identity: identity) { return refuse(id, error) }
                awaitingEngine = true
                return startSubscription(channel, since: since, origin: .command(id: id), maxRate: maxRate)
            }
            awaitingEngine = true
            let verifier = services.verifier
            let user = self.user
            perform({ await verifier.checkSubscriptionToken(token, channel: channel, user: user) }) { session, tokenError in
                if let error = tokenError ?? session.services.checkSubscribe(channel, identity: session.identity, hasSubscriptionToken: true) {
                    session.refuse(id, error)
                    session.engineCallFinished()
                    return
                }
                session.startSubscription(channel, since: since, origin: .command(id: id), maxRate: maxRate)
            }
        case .unsubscribe(let channel):
            guard let subscription = subscriptions.removeValue(forKey: channel) else {
                return refuse(id, ProtocolError(.notSubscribed, "not subscribed to \(channel)"))
            }
            loopHub.unsubscribe(self, from: channel)
            subscription.pacerTimer?.cancel()
            if subscription.joinsPresence { leavePresence(channel) }
            send(Pushes.reply(id: id))
        case .publish(let channel, let data, let idempotencyKey, let key, let highPriority, let receipts):
            awaitingEngine = true
            let request = PublishRequest(
                channel: channel, data: data, sender: user, idempotencyKey: idempotencyKey, key: key, highPriority: highPriority, receipts: receipts)
            publish(request) { session, result in
                switch result {
                case .success(let publication):
                    session.send(Pushes.reply(id: id) { PublishReply.write(publication, into: &$0) })
                case .failure(let error):
                    session.send(Pushes.error(id: id, error))
                }
                session.engineCallFinished()
            }
        case .presence(let channel, let cursor, let limit):
            let options: NamespaceOptions
            switch services.options(for: channel) {
            case .success(let value): options = value
            case .failure(let error): return refuse(id, error)
            }
            if let error = Permissions.presence(channel, options: options, identity: identity) { return refuse(id, error) }
            awaitingEngine = true
            let broker = services.broker
            perform({ try? await broker.presence(channel: channel, after: cursor, limit: limit) }) { session, page in
                defer { session.engineCallFinished() }
                guard let page else { return session.refuse(id, ProtocolError(.internalError, "engine failed to read presence")) }
                session.send(
                    Pushes.reply(id: id) { writer in
                        writer.key("channel"); writer.string(channel.rawValue)
                        Pushes.writePresencePage(page, into: &writer)
                    })
            }
        case .signal(let channel, let type, let data):
            signal(id: id, channel: channel, type: type, data: data)
        case .ack(let channel, let offset, let status):
            guard let user else { return refuse(id, ProtocolError(.unauthorized, "receipts are per user: connect with a token")) }
            if let error = receiptsRefusal(channel) { return refuse(id, error) }
            awaitingEngine = true
            let broker = services.broker
            perform({ try? await broker.acknowledge(channel: channel, offset: offset, user: user, status: status) }) { session, found in
                defer { session.engineCallFinished() }
                guard found == true else { return session.refuse(id, Self.noReceipt(channel, offset)) }
                session.services.metrics.receiptAcks.increment()
                session.send(Pushes.reply(id: id))
            }
        case .receipts(let channel, let offset):
            if let error = receiptsRefusal(channel) { return refuse(id, error) }
            awaitingEngine = true
            let broker = services.broker
            perform({ try? await broker.receipts(channel: channel, offset: offset) }) { session, found in
                defer { session.engineCallFinished() }
                guard let record = found ?? nil else { return session.refuse(id, Self.noReceipt(channel, offset)) }
                guard record.publisher != nil, record.publisher == session.user else {
                    return session.refuse(id, ProtocolError(.receiptsDenied, "only the publisher may read these receipts"))
                }
                session.send(
                    Pushes.reply(id: id) { writer in
                        writer.key("channel"); writer.string(channel.rawValue)
                        Pushes.writeReceipts(record, offset: offset, into: &writer)
                    })
            }
        }
    }

    private func receiptsRefusal(_ channel: ChannelName) -> ProtocolError? {
        switch services.options(for: channel) {
        case .failure(let error): return error
        case .success(let options): return options.receipts ? nil : ProtocolError(.receiptsNotEnabled, "namespace does not keep receipts")
        }
    }

    static func noReceipt(_ channel: ChannelName, _ offset: UInt64) -> ProtocolError {
        ProtocolError(.receiptNotFound, "no receipts for \(channel) offset \(offset): none were asked, or it left the history")
    }

    // MARK: signals

    private struct SignalKey: Hashable {
        let channel: ChannelName
        let type: String
    }

    private struct SignalGate {
        var lastSent: NIODeadline
        /// The newest signal that arrived within the interval; it replaces older ones (coalescing).
        var pending: EphemeralEvent?
        var timer: Scheduled<Void>?
    }

    /// Distinct (channel, type) gates kept per session; idle ones are forgotten beyond this.
    static let maxSignalGates = 256

    private func signal(id: Int64, channel: ChannelName, type: String, data: ByteBuffer?) {
        let options: NamespaceOptions
        switch services.options(for: channel) {
        case .success(let value): options = value
        case .failure(let error): return refuse(id, error)
        }
        guard options.allowSignals else { return refuse(id, ProtocolError(.signalsNotAllowed, "namespace does not take signals")) }
        guard subscriptions[channel] != nil else {
            return refuse(id, ProtocolError(.notSubscribed, "subscribe to \(channel) before sending signals to it"))
        }
        let event = EphemeralEvent.signal(channel: channel, type: type, client: self.id, user: user, data: data)
        let key = SignalKey(channel: channel, type: type)
        let now = NIODeadline.now()
        let interval = TimeAmount(options.signalInterval)
        if var gate = signalGates[key], now - gate.lastSent < interval {
            gate.pending = event
            if gate.timer == nil {
                let session = NIOLoopBound(self, eventLoop: loopHub.loop)
                gate.timer = loopHub.loop.scheduleTask(deadline: gate.lastSent + interval) { session.value.releaseSignal(key) }
            }
            signalGates[key] = gate
            services.metrics.signalsCoalesced.increment()
            send(
                Pushes.reply(id: id) {
                    $0.key("coalesced"); $0.bool(true)
                })
            return
        }
        if signalGates.count >= Self.maxSignalGates { signalGates = signalGates.filter { $0.value.timer != nil } }
        signalGates[key] = SignalGate(lastSent: now)
        // Through the command queue, so one connection's signals reach the engine in the order sent.
        awaitingEngine = true
        let broker = services.broker
        perform({ try? await broker.signal(event) }) { session, _ in
            session.services.metrics.signalsSent.increment()
            session.send(Pushes.reply(id: id))
            session.engineCallFinished()
        }
    }

    /// The interval of a gate ended: its newest held-back signal goes out now.
    private func releaseSignal(_ key: SignalKey) {
        guard !isClosed, var gate = signalGates[key] else { return }
        gate.timer = nil
        if let pending = gate.pending {
            gate.pending = nil
            gate.lastSent = .now()
            let broker = services.broker
            services.metrics.signalsSent.increment()
            Task { try? await broker.signal(pending) }
        }
        signalGates[key] = gate
    }

    /// Takes a verified refreshed token's identity; refused when it names another user than the session's.
    func installRefreshed(_ identity: Identity?) -> ProtocolError? {
        guard identity?.user == user else { return ProtocolError(.invalidToken, "a refreshed token must be for the same user") }
        self.identity = identity
        refreshRequestedAt = nil
        return nil
    }

    /// Publishes on behalf of this session's client and hands the result back on the loop.
    func publish(_ request: PublishRequest, then completion: @escaping (Session, Result<Publication, ProtocolError>) -> Void) {
        let services = self.services
        let client = ClientPublisher(identity: identity, session: id)
        perform({ await services.publish(request, client: client) }, then: completion)
    }

    /// Runs async work (engine or token verification) off the loop and continues on it, unless the session closed.
    private func perform<Result: Sendable>(_ work: @escaping @Sendable () async -> Result, then completion: @escaping (Session, Result) -> Void) {
        let loop = loopHub.loop
        let bound = NIOLoopBound((self, completion), eventLoop: loop)
        Task {
            let result = await work()
            loop.execute {
                let (session, completion) = bound.value
                guard !session.isClosed else { return }
                completion(session, result)
            }
        }
    }

    private func replyConnected(_ id: Int64) {
        send(
            Pushes.reply(id: id) { writer in
                writer.key("client"); writer.string(self.id)
                writer.key("version"); writer.string(ProtocolVersion.current)
                writer.key("ping"); writer.int(Int64(self.services.settings.heartbeat.interval.nanoseconds / 1_000_000))
                if let identity = self.identity {
                    writer.key("user"); writer.string(identity.user)
                    if let expires = identity.expiresAt { writer.key("expires"); writer.int(expires) }
                }
            }
        )
    }
}

/// The members of a publish result: channel, epoch, offset.
enum PublishReply {
    static func write(_ publication: Publication, into writer: inout JSONWriter) {
        writer.key("channel"); writer.string(publication.channel.rawValue)
        writer.key("epoch"); writer.string(publication.epoch)
        writer.key("offset"); writer.uint(publication.offset)
    }
}

enum ProtocolVersion {
    static let current = "1"
    static let jsonSubprotocol = "switchboard.v1.json"
    /// The same commands, replies and pushes as MessagePack maps in binary frames.
    static let messagePackSubprotocol = "switchboard.v1.msgpack"
    static let supportedSubprotocols = [jsonSubprotocol, messagePackSubprotocol]
}

enum SessionID {
    static func make() -> String {
        EpochGenerator.make() + EpochGenerator.make()
    }
}

import NIOCore
import SwitchboardBroker
import SwitchboardCore

/// One client's session: who it is, its subscriptions, its command queue and heartbeat, and the one dispatch that
/// hands each command to its family (`Session+Subscribe`, `+Publish`, `+Presence`, `+Receipts`, `+Signals`,
/// `+Connect`).
///
/// Transport-agnostic: WebSocket, SSE, long-poll and the raw endpoints drive the same session through
/// ``SessionTransport``. Confined to its connection's event loop; engine calls run off the loop with a deadline
/// (``DeadlineBroker``) and continue on it through ``perform(_:then:)``.
final class Session {
    /// Commands queued behind a pending engine call before further ones are refused.
    static let maxQueuedCommands = 1024

    let id: String
    /// The secret that HTTP requests name this session by (SSE and long-poll only). Not the client id: that one may
    /// be shown to other clients (presence), and knowing it must not let anyone send commands as this session.
    let address: String?
    let kind: TransportKind
    let services: SessionServices
    let loopHub: LoopHub
    private(set) var transport: (any SessionTransport)?
    /// Who the client is and what it told others (token identity, `connect` info, token expiry).
    var client: SessionClient
    var subscriptions: [ChannelName: Subscription] = [:]
    var lastGeneration: UInt64 = 0
    /// Work waiting its turn: commands, and publishes from the raw endpoint (which have no reply).
    var queue = CommandQueue<Work>(capacity: Session.maxQueuedCommands)
    private var discipline: CommandDiscipline
    private var heartbeat = HeartbeatState(now: .now())
    /// Presence joins and leaves of this session, in the order they were asked for.
    let presenceOrder = EngineCallSequence()
    var signalGates = SignalGates()
    private var flushRequested = false
    private(set) var isClosed = false
    /// The client went past a tolerance (command flood, malformed commands): once the commands accepted before have
    /// their replies, the session ends with this code. Nothing more is read meanwhile.
    private var disconnectAfterQueue: CloseCode?

    enum Work {
        case command(CommandEnvelope)
        case publishWithoutReply(PublishRequest)
        /// A refusal decided on arrival, sent when the commands before it have their replies.
        case reply(ByteBuffer)
    }

    var user: String? { client.identity?.user }
    var identity: Identity? { client.identity }

    /// - Parameter userAdmitted: whether `identity`'s user was already counted against the per-user connection limit
    ///   (tokens that came with the upgrade are admitted before it).
    init(kind: TransportKind, services: SessionServices, loopHub: LoopHub, transport: any SessionTransport, identity: Identity?, userAdmitted: Bool) {
        self.id = SessionID.make()
        self.address = kind.takesHTTPCommands ? SessionID.make() + SessionID.make() : nil
        self.client = SessionClient(identity: identity, countedUser: userAdmitted ? identity?.user : nil)
        self.discipline = CommandDiscipline(
            commandsPerSecond: services.settings.configuration.limits.commandsPerSecond, now: MonotonicTime.nanoseconds())
        self.kind = kind
        self.services = services
        self.loopHub = loopHub
        self.transport = transport
        loopHub.register(self)
        if kind.takesHTTPCommands { services.registry.register(self) }
        services.drain.sessionOpened()
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
        for (channel, subscription) in subscriptions { endSubscription(channel, subscription) }
        signalGates.cancelAll()
        subscriptions.removeAll()
        queue.removeAll()
        loopHub.unregister(self)
        if kind.takesHTTPCommands { services.registry.unregister(self) }
        transport = nil
        services.metrics.connectionClosed(kind)
        services.drain.sessionClosed()
        if let counted = client.countedUser { services.connections.release(user: counted) }
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

    func send(_ message: ByteBuffer) {
        transport?.send(message: message)
        requestFlush()
    }

    func refuse(_ id: Int64, _ error: ProtocolError) {
        services.metrics.error(error.code)
        send(Pushes.error(id: id, error))
    }

    // MARK: heartbeats

    func noteInbound() {
        heartbeat.noteInbound(at: .now())
    }

    func checkHeartbeat(now: NIODeadline, interval: TimeAmount, timeout: TimeAmount) {
        guard let transport, !isClosed else { return }
        checkTokenExpiry()
        guard !isClosed else { return }
        switch heartbeat.check(now: now, interval: interval, timeout: timeout, peerAnswers: transport.answersHeartbeats) {
        case .none:
            return
        case .timedOut:
            services.metrics.heartbeatTimeouts.increment()
            disconnect(.heartbeatTimeout)
        case .sendHeartbeat:
            transport.sendHeartbeat()
            requestFlush()
        }
    }

    // MARK: commands in

    /// One command's text (a WebSocket text message or an HTTP command body).
    func receive(command text: ByteBuffer) {
        guard !isClosed, disconnectAfterQueue == nil else { return }
        if case .refuse(let disconnects) = discipline.admit(now: MonotonicTime.nanoseconds()) {
            let commandID = try? CommandDecoder.decode(text).get().id
            let rate = services.settings.configuration.limits.commandsPerSecond
            services.metrics.error(.rateLimited)
            answerInOrder(Pushes.error(id: commandID, ProtocolError(.rateLimited, "more than \(rate) commands per second; slow down")))
            if disconnects {
                services.audit.record("limit_hit", ["limit": "commands_per_second", "session": id, "user": user])
                disconnectInOrder(.rateLimited)
            }
            return
        }
        switch CommandDecoder.decode(text) {
        case .failure(let failure):
            services.metrics.error(failure.error.code)
            answerInOrder(Pushes.error(id: failure.id, failure.error))
            if discipline.malformed() == .refuse(disconnect: true) { disconnectInOrder(.badProtocol) }
        case .success(let envelope):
            discipline.wellFormed()
            if case .pong = envelope.command { return }
            guard queue.enqueue(.command(envelope)) else {
                // The queue is full: this refusal cannot wait its turn, so it overtakes the replies still due.
                services.metrics.error(.badRequest)
                send(Pushes.error(id: envelope.id, ProtocolError(.badRequest, "too many commands waiting; wait for replies")))
                return
            }
            runCommands()
        }
    }

    /// A command that could not even be turned into JSON (a broken MessagePack frame): refused like malformed JSON.
    func receive(undecodableCommand reason: String) {
        guard !isClosed, disconnectAfterQueue == nil else { return }
        services.metrics.error(.malformedJSON)
        answerInOrder(Pushes.error(id: nil, ProtocolError(.malformedJSON, reason)))
        if discipline.malformed() == .refuse(disconnect: true) { disconnectInOrder(.badProtocol) }
    }

    /// Sends a refusal decided on arrival after the replies of the commands queued before it (the protocol answers in
    /// command order); at once when nothing waits, or when the queue is full.
    private func answerInOrder(_ message: ByteBuffer) {
        if queue.count == 0 && !queue.isAwaitingEngine { return send(message) }
        if !queue.enqueue(.reply(message)) { send(message) }
    }

    /// Ends the session once every command accepted before has its reply.
    private func disconnectInOrder(_ code: CloseCode) {
        disconnectAfterQueue = code
        runCommands()
    }

    /// Publishes a raw endpoint's message in arrival order; refusals are counted, not answered (there is no reply).
    func receive(rawPublish request: PublishRequest) {
        guard !isClosed else { return }
        guard queue.enqueue(.publishWithoutReply(request)) else {
            services.metrics.error(.badRequest)
            return
        }
        runCommands()
    }

    /// Runs queued commands in order; one engine call at a time keeps replies (and publish offsets) in command order.
    private func runCommands() {
        while !isClosed, let work = queue.next() {
            switch work {
            case .command(let envelope):
                execute(envelope)
            case .publishWithoutReply(let request):
                queue.engineCallStarted()
                publish(request) { session, _ in session.engineCallFinished() }
            case .reply(let message):
                send(message)
            }
        }
        if let code = disconnectAfterQueue, !isClosed, queue.count == 0, !queue.isAwaitingEngine {
            disconnectAfterQueue = nil
            disconnect(code)
        }
    }

    /// The command that called the engine has its answer (or its deadline passed): the next one may run.
    func engineCallFinished() {
        queue.engineCallFinished()
        runCommands()
    }

    /// The one dispatch: each family decides whether it calls the engine (then it calls ``engineCallFinished()``).
    private func execute(_ envelope: CommandEnvelope) {
        guard let id = envelope.id else { return }
        switch envelope.command {
        case .pong:
            return
        case .ping:
            send(Pushes.reply(id: id))
        case .connect(let token, let info, let batch):
            connect(id: id, token: token, info: info, batch: batch)
        case .refresh(let token):
            refresh(id: id, token: token)
        case .subscribe(let channel, let since, let token, let maxRate):
            subscribe(id: id, channel: channel, since: since, token: token, maxRate: maxRate)
        case .unsubscribe(let channel):
            unsubscribe(id: id, channel: channel)
        case .publish(let channel, let data, let idempotencyKey, let key, let highPriority, let receipts):
            let request = PublishRequest(
                channel: channel, data: data, sender: user, idempotencyKey: idempotencyKey, key: key, highPriority: highPriority, receipts: receipts)
            publish(id: id, request)
        case .presence(let channel, let cursor, let limit):
            presence(id: id, channel: channel, cursor: cursor, limit: limit)
        case .signal(let channel, let type, let data):
            signal(id: id, channel: channel, type: type, data: data)
        case .ack(let channel, let offset, let status):
            acknowledge(id: id, channel: channel, offset: offset, status: status)
        case .receipts(let channel, let offset):
            receipts(id: id, channel: channel, offset: offset)
        }
    }

    // MARK: async work

    /// Runs async work (an engine call or a token check) off the loop and continues on it, unless the session closed.
    /// Engine calls carry their own deadline (``DeadlineBroker``), so `completion` always runs in bounded time.
    func perform<Result: Sendable>(_ work: @escaping @Sendable () async -> Result, then completion: @escaping (Session, Result) -> Void) {
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

    /// An engine call whose failure is answered as the engine error it was (mapped in one place,
    /// `ProtocolError.init(_: EngineError)`).
    func performEngineCall<Value: Sendable>(
        _ operation: String, _ work: @escaping @Sendable () async throws -> Value,
        then completion: @escaping (Session, Result<Value, ProtocolError>) -> Void
    ) {
        perform(
            {
                do {
                    return .success(try await work())
                } catch {
                    return .failure(ProtocolError(engineFailure: error, operation: operation))
                }
            }, then: completion)
    }
}

/// Who a session's client is, as far as the session knows.
struct SessionClient {
    /// Who the client proved to be with a token; nil for an anonymous session.
    var identity: Identity?
    /// The user counted against `limits.max_connections_per_user`, released when the session closes.
    var countedUser: String?
    /// What the client told others about itself (`connect`'s `info`), shown in presence.
    var info: ByteBuffer?
    var tokenExpiry = TokenExpiryWatch()
}

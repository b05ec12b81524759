import Logging
import NIOCore
import SwitchboardBroker
import SwitchboardCore

/// One client's session: who it is, its subscriptions, its output and heartbeat, and its engine calls; commands come in
/// through `Session+Commands` (intake and the one dispatch), which hands each to its family (`Session+Subscribe`,
/// `+Publish`, `+Presence`, `+Receipts`, `+Signals`, `+Connect`).
///
/// Transport-agnostic: WebSocket, SSE, long-poll and the raw endpoints drive the same session through
/// ``SessionTransport``. Confined to its connection's event loop; engine calls run off the loop with a deadline
/// (``DeadlineBroker``) and continue on it through ``perform(_:then:)``.
final class Session {
    /// Who opened the session, when and over what: fixed for its life.
    let origin: SessionOrigin
    let services: SessionServices
    let loopHub: LoopHub
    private(set) var transport: (any SessionTransport)?
    /// Who the client is and what it told others (token identity, `connect` info, token expiry).
    var client: SessionClient
    var subscriptions: [ChannelName: Subscription] = [:]
    var lastGeneration: UInt64 = 0
    /// Commands in: the queue that keeps replies in command order, the per-connection discipline, a disconnect that
    /// waits for the queue (`Session+Commands.swift`).
    var intake: CommandIntake
    private var heartbeat = HeartbeatState(now: .now())
    /// Presence joins and leaves in the order they were asked for, and the signal gates.
    var live = SessionLiveState()
    private var flushRequested = false
    private var end = SessionEnd()

    var id: String { origin.id }
    var address: String? { origin.address }
    var kind: TransportKind { origin.kind }
    var isClosed: Bool { end.isClosed }
    var user: String? { client.identity?.user }
    var identity: Identity? { client.identity }

    /// - Parameters:
    ///   - userAdmitted: whether `identity`'s user was already counted against the per-user connection limit (tokens
    ///     that came with the upgrade are admitted before it).
    ///   - remoteAddress: the client's IP address, for the log.
    init(
        kind: TransportKind, services: SessionServices, loopHub: LoopHub, transport: any SessionTransport, identity: Identity?, userAdmitted: Bool,
        remoteAddress: String? = nil
    ) {
        self.origin = SessionOrigin(
            id: SessionID.make(), address: kind.takesHTTPCommands ? services.registry.newAddress() : nil, kind: kind,
            openedAt: .now(), remoteAddress: remoteAddress)
        self.client = SessionClient(identity: identity, countedUser: userAdmitted ? identity?.user : nil)
        self.intake = CommandIntake(
            discipline: CommandDiscipline(
                commandsPerSecond: services.settings.configuration.limits.commandsPerSecond, now: MonotonicTime.nanoseconds()))
        self.services = services
        self.loopHub = loopHub
        self.transport = transport
        loopHub.register(self)
        if kind.takesHTTPCommands { services.registry.register(self) }
        services.drain.sessionOpened()
        services.metrics.connectionOpened(kind)
        services.audit.record("connection_opened", ["session": id, "transport": kind.rawValue, "user": identity?.user])
        services.logger.info("connection opened", metadata: logMetadata)
    }

    /// What every log line about this session carries. The session id, never its address (the secret that commands
    /// over HTTP are sent to) nor a token.
    var logMetadata: Logger.Metadata {
        var metadata: Logger.Metadata = ["session": .string(id), "transport": .string(kind.rawValue)]
        if let remoteAddress = origin.remoteAddress { metadata["remote"] = .string(remoteAddress) }
        if let user { metadata["user"] = .string(user) }
        return metadata
    }

    /// The transport is closing this session as a slow consumer: counted and logged, with the bound that was hit.
    func noteSlowConsumer(_ reason: SlowConsumerReason) {
        services.metrics.slowConsumerDisconnected(kind, reason)
        var metadata = logMetadata
        metadata["reason"] = .string(reason.rawValue)
        services.logger.notice("slow consumer disconnected", metadata: metadata)
    }

    /// Ends the connection with a reason the client can act on, and records why.
    func disconnect(_ code: CloseCode) {
        services.audit.record("disconnected", ["session": id, "user": user, "code": String(code.rawValue), "reason": code.reason])
        if end.closeCode == nil { end.closeCode = code }
        transport?.disconnect(code)
    }

    var subscriptionCount: Int { subscriptions.count }

    /// Releases subscriptions and registrations. Idempotent.
    func close() {
        guard !isClosed else { return }
        end.isClosed = true
        for (channel, subscription) in subscriptions { endSubscription(channel, subscription) }
        live.signalGates.cancelAll()
        subscriptions.removeAll()
        intake.queue.removeAll()
        loopHub.unregister(self)
        if kind.takesHTTPCommands { services.registry.unregister(self) }
        logClose()
        transport = nil
        services.metrics.connectionClosed(kind)
        services.drain.sessionClosed()
        if let counted = client.countedUser { services.connections.release(user: counted) }
        services.audit.record("connection_closed", ["session": id, "user": user])
    }

    private func logClose() {
        var metadata = logMetadata
        metadata["duration_ms"] = .stringConvertible((NIODeadline.now() - origin.openedAt).nanoseconds / 1_000_000)
        if let closeCode = end.closeCode {
            metadata["close_code"] = .stringConvertible(closeCode.rawValue)
            metadata["close_reason"] = .string(closeCode.reason)
        }
        if let bytes = transport?.bytesSent { metadata["bytes_out"] = .stringConvertible(bytes) }
        services.logger.info("connection closed", metadata: metadata)
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

/// Where a session came from, fixed for its life.
struct SessionOrigin {
    let id: String
    /// The secret that HTTP requests name this session by (SSE and long-poll only). Not the client id: that one may
    /// be shown to other clients (presence), and knowing it must not let anyone send commands as this session.
    let address: String?
    let kind: TransportKind
    /// For the close log line: when the session opened and where from (the client's IP address).
    let openedAt: NIODeadline
    let remoteAddress: String?
}

/// How a session ended: closed or not, and the code the server closed it with (nil: the client went away, or the
/// server stopped it without a code), for the close log line.
struct SessionEnd {
    var isClosed = false
    var closeCode: CloseCode?
}

/// The live-app primitives' state of one session.
struct SessionLiveState {
    private var madePresenceOrder: EngineCallSequence?
    var signalGates = SignalGates()

    /// Presence joins and leaves of this session, in the order they were asked for. Made on the first one: most
    /// sessions never join presence, and an idle connection should not pay for it.
    var presenceOrder: EngineCallSequence {
        mutating get {
            if let made = madePresenceOrder { return made }
            let made = EngineCallSequence()
            madePresenceOrder = made
            return made
        }
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

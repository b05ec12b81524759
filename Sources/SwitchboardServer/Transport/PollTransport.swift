import NIOCore
import SwitchboardCore

/// The outbound side of a long-poll session: replies and pushes wait in a numbered ``PollOutbox`` until a poll
/// request takes them and a later poll confirms them (`ack`).
///
/// At most one poll is parked at a time; a newer one answers the older at once (the client gave up on it). A poll is
/// answered as soon as messages are waiting — at the end of the loop tick, so a burst goes out as one batch — or
/// empty when its timeout passes. A session nobody polls for `poll.session_idle_ms` is closed.
///
/// Confined to the session's event loop, like the session itself.
final class PollTransport: SessionTransport {
    /// Largest batch of messages in one poll response; the rest wait for the next poll.
    static let responseByteBudget = 1 << 20

    private struct ParkedPoll {
        let promise: EventLoopPromise<ByteBuffer>
        let ack: UInt64
        let timeout: Scheduled<Void>
    }

    private let loop: any EventLoop
    private let metrics: ServerMetrics
    private let audit: AuditLog
    /// While the server drains, a session told to go ends at once instead of waiting for a poll.
    private let drain: DrainState
    /// `poll.session_idle_ms`: a session nobody polls for this long is closed.
    private let sessionIdle: TimeAmount
    private weak var session: Session?
    private var outbox: PollOutbox
    private var parked: ParkedPoll?
    private var idleTimer: Scheduled<Void>?
    /// Set once the session was told to go (disconnect push queued): nothing more is queued, and the session ends
    /// when that push was handed to a poll.
    private(set) var isEnding = false
    private var isFinished = false

    init(loop: any EventLoop, services: SessionServices) {
        self.loop = loop
        self.metrics = services.metrics
        self.audit = services.audit
        self.drain = services.drain
        self.sessionIdle = TimeAmount(services.settings.configuration.poll.sessionIdle)
        self.outbox = PollOutbox(maxBytes: services.settings.limits.outboundQueueBytes, maxMessages: services.settings.limits.outboundQueueMessages)
    }

    /// Opens a long-poll session on `loop`; returns its address.
    static func openSession(on loopHub: LoopHub, services: SessionServices, identity: Identity?, remoteAddress: String? = nil) -> String {
        let transport = PollTransport(loop: loopHub.loop, services: services)
        let session = Session(
            kind: .poll, services: services, loopHub: loopHub, transport: transport, identity: identity, userAdmitted: true,
            remoteAddress: remoteAddress)
        transport.session = session
        transport.startIdleTimer()
        guard let address = session.address else { preconditionFailure("long-poll sessions are addressable") }
        return address
    }

    // MARK: polls

    /// Answers with the messages after `ack` now, or parks until some arrive or `timeout` passes.
    func poll(ack: UInt64, timeout: TimeAmount) -> EventLoopFuture<ByteBuffer> {
        loop.assertInEventLoop()
        let promise = loop.makePromise(of: ByteBuffer.self)
        guard !isFinished else {
            promise.succeed(Self.emptyResponse(ack: ack))
            return promise.futureResult
        }
        session?.noteInbound()
        outbox.acknowledge(through: ack)
        if let older = unpark() {
            older.promise.succeed(Self.emptyResponse(ack: older.ack))
        }
        idleTimer?.cancel()
        idleTimer = nil
        if outbox.hasMessages(after: ack) || isEnding {
            answer(promise, after: ack)
        } else {
            let scheduled = loop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
                guard let self else { return }
                self.answerParked()
            }
            parked = ParkedPoll(promise: promise, ack: ack, timeout: scheduled)
            metrics.pollsWaiting.increment()
        }
        return promise.futureResult
    }

    /// No messages; confirms `ack` again (for a poll that a newer one replaced).
    static func emptyResponse(ack: UInt64) -> ByteBuffer {
        ByteBuffer(string: "{\"seq\":\(ack),\"messages\":[]}")
    }

    private func answerParked() {
        guard let waiting = unpark() else { return }
        answer(waiting.promise, after: waiting.ack)
    }

    private func unpark() -> ParkedPoll? {
        guard let waiting = parked else { return nil }
        parked = nil
        waiting.timeout.cancel()
        metrics.pollsWaiting.decrement()
        return waiting
    }

    private func answer(_ promise: EventLoopPromise<ByteBuffer>, after ack: UInt64) {
        let response = outbox.response(after: ack, byteBudget: Self.responseByteBudget)
        promise.succeed(response.body)
        if isEnding && response.lastSequence == outbox.lastSequence {
            // The disconnect push is on its way; a lost response only costs the client a 404 and a fresh session.
            finish()
        } else {
            startIdleTimer()
        }
    }

    private func startIdleTimer() {
        idleTimer?.cancel()
        idleTimer = loop.assumeIsolated().scheduleTask(in: sessionIdle) { [weak self] in
            guard let self, self.parked == nil else { return }
            self.audit.record("poll_session_expired", ["session": self.session?.id, "user": self.session?.user])
            self.finish()
        }
    }

    /// Ends the session: answers a parked poll, stops timers, releases the session.
    func finish() {
        guard !isFinished else { return }
        isFinished = true
        idleTimer?.cancel()
        idleTimer = nil
        if let waiting = unpark() {
            waiting.promise.succeed(outbox.response(after: waiting.ack, byteBudget: Self.responseByteBudget).body)
        }
        session?.close()
    }

    // MARK: SessionTransport

    private func enqueue(_ message: ByteBuffer) -> Bool {
        guard !isEnding, !isFinished else { return false }
        guard outbox.append(message) else {
            session?.noteSlowConsumer(.pollOutboxFull)
            session?.disconnect(.slowConsumer)
            return false
        }
        return true
    }

    func send(publication: EncodedPublication, conflates: Bool) -> Bool {
        enqueue(publication.jsonPush)
    }

    func send(message: ByteBuffer) {
        _ = enqueue(message)
    }

    func subscriptionStarted(_ channel: ChannelName, recovery: Recovery) {
        // Long-poll subscriptions always start with a command, whose reply says where they start.
    }

    var answersHeartbeats: Bool { false }

    func sendHeartbeat() {
        // Every poll is answered within `poll.timeout_ms`: that is the heartbeat.
    }

    func flush() {
        guard let waiting = parked, outbox.hasMessages(after: waiting.ack) else { return }
        answerParked()
    }

    func disconnect(_ code: CloseCode) {
        guard !isEnding, !isFinished else { return }
        _ = outbox.append(Pushes.disconnect(code), force: true)
        isEnding = true
        if parked != nil {
            answerParked()
        } else if drain.isDraining {
            finish()
        }
        // Otherwise the next poll takes the disconnect push, or the idle timer ends the session.
    }
}

import NIOCore
import NIOWebSocket
import SwitchboardCore

/// Owns one client's connection and everything that must survive it: subscriptions with their positions and presence
/// info, calls waiting for a reply (publishes, reads, signals, acknowledgements), the connection state.
///
/// One task runs the connection loop for the client's life (connect, read every frame, back off, reconnect); frames
/// are handled on this actor as they are read, so there is no task per message (a waiting call has one, its
/// deadline). Commands are written straight to the channel without waiting, and whatever a lost connection left
/// unanswered is sent again on the next one: subscriptions with their last position (`since`), publishes with the
/// same idempotency key, other calls as they were.
actor ClientDriver {
    typealias EventContinuation = AsyncThrowingStream<Switchboard.SubscriptionEvent, any Error>.Continuation
    typealias StateContinuation = AsyncStream<Switchboard.ConnectionState>.Continuation

    private struct SubscriptionRecord {
        enum Phase: Equatable {
            /// To be sent once a session is ready.
            case waiting
            /// `subscribe` sent, reply not yet read.
            case subscribing
            /// The reply was read: publications are delivered.
            case active
        }

        let identifier: UInt64
        let continuation: EventContinuation
        var stream: ChannelStream
        var phase: Phase
        /// This connection's presence info on the channel (minified JSON), sent with every `subscribe`.
        var presenceInfo: ByteBuffer?
        let joinPresence: Bool
        /// The namespace's `signal_interval_ms` from the last subscribe reply; nil before it, or without signals.
        var signalInterval: Duration?
    }

    /// A command waiting for its reply; sent again on the next session when the connection is lost first (every
    /// command the client sends this way is safe to repeat: publishes carry their idempotency key, the others are
    /// reads, acknowledgements, presence info and signals).
    private struct RequestRecord {
        let identifier: UInt64
        /// Writes the command with the given id.
        let command: @Sendable (Int64) -> ByteBuffer
        /// nil for an automatic delivery acknowledgement, which nobody waits for.
        let continuation: CheckedContinuation<Wire.Members, any Error>?
    }

    /// Automatic delivery acknowledgements kept while they cannot be sent; beyond it the oldest is dropped.
    static let maxQueuedAcks = 10_000

    /// What a reply answers.
    private enum Pending {
        case connect
        case subscribe(channel: String, identifier: UInt64, sentPosition: Bool)
        case request(identifier: UInt64)
        case unsubscribe
        case refresh
    }

    private enum Outcome {
        /// Try again after a backoff delay; `stable` when the connection lasted long enough to reset the attempt count,
        /// `reachedSession` when the server answered `connect` on it.
        case retry(reason: String, stable: Bool, reachedSession: Bool)
        /// The server said not to reconnect.
        case stop(code: UInt16, reason: String)
        /// Retrying cannot help (the hub's certificate failed the check).
        case fail(Switchboard.ClientError)
    }

    private let endpoint: WebSocketTransport.Endpoint
    private let tokenSource: Switchboard.TokenSource
    /// The token sent in `connect`; from a provider, nil until it was asked.
    private var token: String?
    /// A provider must be asked before the next connection (first connection, refused token).
    private var needsToken: Bool
    /// A provider is being asked for a refresh of the open session's token.
    private var refreshing = false
    /// Read from outside the actor by subscriptions (the size of their buffers).
    let configuration: Switchboard.Client.Configuration

    private var subscriptions: [String: SubscriptionRecord] = [:]
    private var requests: [RequestRecord] = []
    /// Automatic acknowledgements among `requests`.
    private var queuedAcks = 0
    /// The session's user (the `connect` reply's `user`); nil when anonymous or between connections.
    private var sessionUser: String?
    private var pending: [Int64: Pending] = [:]
    private var nextCommandID: Int64 = 1
    private var nextIdentifier: UInt64 = 1
    /// The open connection's channel (the WebSocket, or the SSE stream), nil between connections.
    private var channel: (any Channel)?
    /// The SSE session's address once its `session` event arrived; nil on WebSocket.
    private var sseSession: String?
    /// Commands waiting for the SSE command channel, which takes one request at a time so they run in order.
    private var sseOutbox: [ByteBuffer] = []
    private var ssePosting = false
    /// The transport of the next attempt (an index into `configuration.transports`), and its failures in a row.
    private var transportIndex = 0
    private var transportFailures = 0
    /// The server answered `connect` on the open connection: other commands may be sent.
    private var sessionReady = false
    private var connectedAt: ContinuousClock.Instant?
    /// The `disconnect` push of the open connection, if one came (its close frame follows).
    private var announcedDisconnect: (code: UInt16, reason: String)?
    private var state: Switchboard.ConnectionState = .idle
    private var stateObservers: [UInt64: StateContinuation] = [:]
    private var runTask: Task<Void, Never>?
    /// Set once the client is closed or the server said stop: everything new fails with it.
    private var ending: Switchboard.ClientError?
    private var statistics = Switchboard.Client.Statistics()

    init(endpoint: WebSocketTransport.Endpoint, token: Switchboard.TokenSource, configuration: Switchboard.Client.Configuration) {
        self.endpoint = endpoint
        self.tokenSource = token
        switch token.source {
        case .fixed(let fixed):
            self.token = fixed
            self.needsToken = false
        case .provider:
            self.token = nil
            self.needsToken = true
        }
        self.configuration = configuration
    }

    // MARK: API

    func subscribe(
        channel: String, since: Switchboard.Position?, options: Switchboard.SubscribeOptions, identifier: UInt64,
        continuation: EventContinuation
    ) {
        if let ending { return continuation.finish(throwing: ending) }
        guard subscriptions[channel] == nil else {
            return continuation.finish(
                throwing: Switchboard.ClientError(.alreadySubscribed, "this client already holds a subscription to \(channel)"))
        }
        var info: ByteBuffer?
        if let text = options.presenceInfo {
            do {
                info = try JSONScanner.validateAndMinify(ByteBuffer(string: text))
            } catch {
                return continuation.finish(throwing: Switchboard.ClientError(.invalidJSON, "presence info: \(error)"))
            }
        }
        subscriptions[channel] = SubscriptionRecord(
            identifier: identifier, continuation: continuation, stream: ChannelStream(since: since), phase: .waiting,
            presenceInfo: info, joinPresence: options.joinPresence)
        startIfNeeded()
        if sessionReady { sendSubscribe(channel) }
    }

    /// The consumer stopped iterating (its task was cancelled, or it left the loop).
    func unsubscribe(channel: String, identifier: UInt64) {
        guard let record = subscriptions[channel], record.identifier == identifier else { return }
        subscriptions[channel] = nil
        record.continuation.finish()
        sendUnsubscribe(channel, phase: record.phase)
    }

    /// Undoes a subscription on the server, if this session subscribed it. A subscribe still in flight is answered
    /// before the unsubscribe (commands run in order), so it is undone too.
    private func sendUnsubscribe(_ channel: String, phase: SubscriptionRecord.Phase) {
        guard sessionReady, phase != .waiting else { return }
        let id = makeCommandID()
        pending[id] = .unsubscribe
        send(Wire.unsubscribe(id: id, channel: channel))
    }

    func publish(
        channel: String, data: ByteBuffer, idempotencyKey: String, receipts: Bool, timeout: Duration
    ) async throws -> Switchboard.Position {
        let result = try await request(timeout: timeout) { id in
            Wire.publish(id: id, channel: channel, data: data, idempotencyKey: idempotencyKey, receipts: receipts)
        }
        guard let position = result.position else { throw Wire.unexpected("publish reply without a position", nil) }
        return position
    }

    /// Sets this connection's presence info on a subscribed channel: kept for the next `subscribe` (after a
    /// reconnect) and sent now as `presence_update`.
    func updatePresence(channel: String, info: ByteBuffer?, timeout: Duration) async throws {
        subscriptions[channel]?.presenceInfo = info
        _ = try await request(timeout: timeout) { id in Wire.presenceUpdate(id: id, channel: channel, info: info) }
    }

    /// Sends a command once a session is ready and returns its reply's result, or throws its error reply.
    ///
    /// The command waits for a connection and is sent again on the next one if the connection is lost before the
    /// reply. It fails with ``Switchboard/ClientError/Code/timedOut`` when no reply came within `timeout` (a command
    /// already sent may still have run), with `CancellationError` when the calling task is cancelled, and with the
    /// client's ending error when it closes or stops first.
    func request(timeout: Duration, _ command: @escaping @Sendable (Int64) -> ByteBuffer) async throws -> Wire.Members {
        if let ending { throw ending }
        startIfNeeded()
        let identifier = makeIdentifier()
        let deadline = Task { [weak self] in
            try await Task.sleep(for: timeout)
            await self?.finishRequest(
                identifier: identifier, with: Switchboard.ClientError(.timedOut, "no reply within \(timeout)"))
        }
        defer { deadline.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                guard !Task.isCancelled else { return continuation.resume(throwing: CancellationError()) }
                requests.append(RequestRecord(identifier: identifier, command: command, continuation: continuation))
                if sessionReady { sendRequest(requests[requests.count - 1]) }
            }
        } onCancel: {
            Task { await self.finishRequest(identifier: identifier, with: CancellationError()) }
        }
    }

    /// The caller stopped waiting (cancelled, or out of time). A command not sent yet never will be; one already sent
    /// may still run, and its reply is then ignored.
    private func finishRequest(identifier: UInt64, with error: any Error) {
        guard let index = requests.firstIndex(where: { $0.identifier == identifier }) else { return }
        requests.remove(at: index).continuation?.resume(throwing: error)
    }

    /// Acknowledges delivery of a publication that asked for receipts; nobody waits for the answer. Kept, like a
    /// request, until a session answers it.
    private func acknowledgeDelivery(_ publication: Switchboard.Publication) {
        if queuedAcks >= Self.maxQueuedAcks, let oldest = requests.firstIndex(where: { $0.continuation == nil }) {
            requests.remove(at: oldest)
            queuedAcks -= 1
            statistics.acksDropped += 1
        }
        let channel = publication.channel
        let offset = publication.position.offset
        let record = RequestRecord(
            identifier: makeIdentifier(), command: { id in Wire.ack(id: id, channel: channel, offset: offset, status: .delivered) },
            continuation: nil)
        requests.append(record)
        queuedAcks += 1
        if sessionReady { sendRequest(record) }
    }

    func observeStates(identifier: UInt64, continuation: StateContinuation) {
        continuation.yield(state)
        // Closed or stopped: no state will follow.
        guard ending == nil else { return continuation.finish() }
        stateObservers[identifier] = continuation
    }

    func stopObservingStates(identifier: UInt64) {
        stateObservers[identifier] = nil
    }

    func currentStatistics() -> Switchboard.Client.Statistics { statistics }

    func signalInterval(channel: String) -> Duration? { subscriptions[channel]?.signalInterval }

    /// Calls sent on the open connection and not answered yet (for tests that lose them on purpose).
    func requestsAwaitingReply() -> Int {
        pending.values.count { if case .request = $0 { true } else { false } }
    }

    func connect() { startIfNeeded() }

    func close() {
        guard ending == nil else { return }
        let error = Switchboard.ClientError(.clientClosed, "the client was closed")
        ending = error
        runTask?.cancel()
        channel?.close(promise: nil)
        for record in subscriptions.values { record.continuation.finish() }
        subscriptions.removeAll()
        failRequests(with: error)
        setState(.closed)
        finishStateObservers()
    }

    // MARK: connection loop

    private func startIfNeeded() {
        guard runTask == nil, ending == nil else { return }
        runTask = Task { await self.run() }
    }

    private func run() async {
        var failures = 0
        var generator = SystemRandomNumberGenerator()
        while ending == nil, !Task.isCancelled {
            setState(.connecting(attempt: failures + 1))
            if needsToken, case .provider(let provider) = tokenSource.source {
                do {
                    let fresh = try await provider()
                    guard ending == nil else { return }
                    token = fresh
                    needsToken = false
                } catch {
                    return fail(Switchboard.ClientError(.tokenProviderFailed, "\(error)"))
                }
            }
            let outcome: Outcome
            let transport = configuration.transports[transportIndex]
            do {
                if transport == .sse {
                    let connection = try await SSETransport.open(
                        to: endpoint, tls: tls, silenceLimit: configuration.silenceLimit, connectTimeout: configuration.connectTimeout)
                    // Closed while connecting: the new connection must not outlive the client.
                    guard ending == nil else {
                        try? await connection.channel.close()
                        return
                    }
                    outcome = await serveSSE(connection)
                } else {
                    let connection = try await WebSocketTransport.connect(
                        to: endpoint, tls: tls, maxFrameSize: configuration.maxMessageBytes, silenceLimit: configuration.silenceLimit,
                        connectTimeout: configuration.connectTimeout)
                    guard ending == nil else {
                        try? await connection.channel.close()
                        return
                    }
                    outcome = await serve(connection)
                }
            } catch {
                outcome = Self.connectionFailed(error) ?? .retry(reason: "\(error)", stable: false, reachedSession: false)
            }
            guard ending == nil else { return }
            switch outcome {
            case .stop(let code, let reason):
                stop(code: code, reason: reason)
                return
            case .fail(let failure):
                fail(failure)
                return
            case .retry(let reason, let stable, let reachedSession):
                chooseTransport(afterAttemptThatReachedSession: reachedSession)
                failures = stable ? 1 : failures + 1
                let delay = configuration.backoff.delay(attempt: failures, using: &generator)
                setState(.reconnecting(attempt: failures, delay: delay, reason: reason))
                try? await Task.sleep(for: delay)
            }
        }
    }

    /// The TLS settings for the endpoint's connections; nil for `ws://` and `http://`.
    private var tls: Switchboard.TLS? { endpoint.secure ? configuration.tls : nil }

    /// A connection error that retrying cannot fix, as the outcome that ends the client; nil for the others.
    private static func connectionFailed(_ error: any Error) -> Outcome? {
        guard Switchboard.TLS.isCertificateFailure(error) else { return nil }
        return .fail(Switchboard.ClientError(.tlsFailed, "the hub's certificate failed the check: \(error)"))
    }

    /// Runs one connection until it ends, then decides from its close code whether to come back.
    private func serve(_ connection: WebSocketTransport.Connection) async -> Outcome {
        channel = connection.channel
        announcedDisconnect = nil
        connectedAt = nil
        var closeFrame: (code: UInt16?, reason: String)?
        let connectID = makeCommandID()
        pending[connectID] = .connect
        send(Wire.connect(id: connectID, token: token))
        do {
            try await connection.executeThenClose { inbound, _ in
                for try await frame in inbound {
                    switch frame.opcode {
                    case .text:
                        handle(Wire.decode(frame.unmaskedData))
                    case .ping:
                        write(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData))
                    case .connectionClose:
                        var payload = frame.unmaskedData
                        let code = payload.readInteger(as: UInt16.self)
                        closeFrame = (code, payload.readString(length: payload.readableBytes) ?? "")
                        // Answer the close (RFC 6455 §5.5.1); the server then closes the TCP connection.
                        var echo = ByteBuffer()
                        if let code { echo.writeInteger(code) }
                        write(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: echo))
                        return
                    default:
                        break
                    }
                }
            }
        } catch {
            // A reset link ends the inbound stream with an error; it is decided below like any other end.
            if let failed = Self.connectionFailed(error) {
                connectionEnded()
                return failed
            }
        }
        return connectionOutcome(closeCode: closeFrame?.code, closeReason: closeFrame?.reason)
    }

    /// Runs one SSE session (protocol.md §8, §8.1): pushes and replies arrive on the stream, commands go out as POSTs.
    private func serveSSE(_ connection: SSETransport.Connection) async -> Outcome {
        channel = connection.channel
        announcedDisconnect = nil
        connectedAt = nil
        var failure: String?
        do {
            try await connection.executeThenClose { inbound, outbound in
                try await outbound.write(.head(SSETransport.streamRequest(endpoint)))
                try await outbound.write(.end(nil))
                var parser = SSETransport.EventParser()
                for try await part in inbound {
                    switch part {
                    case .head(let head):
                        guard head.status == .ok else {
                            failure = "the SSE stream was refused: HTTP \(head.status.code)"
                            return
                        }
                    case .body(let bytes):
                        for data in parser.feed(bytes) { handleSSE(data) }
                    case .end:
                        return
                    }
                }
            }
        } catch {
            // A reset link ends the stream with an error; it is decided below like any other end.
            if let failed = Self.connectionFailed(error) {
                connectionEnded()
                return failed
            }
        }
        if let failure, connectedAt == nil {
            connectionEnded()
            return .retry(reason: failure, stable: false, reachedSession: false)
        }
        return connectionOutcome(closeCode: nil, closeReason: nil)
    }

    private func handleSSE(_ data: ByteBuffer) {
        let message = Wire.decode(data)
        guard case .session(let session) = message else { return handle(message) }
        // The first event names the command channel; the session starts with `connect`, as on a WebSocket.
        guard sseSession == nil else { return }
        sseSession = session
        let connectID = makeCommandID()
        pending[connectID] = .connect
        send(Wire.connect(id: connectID, token: token))
    }

    /// Decides from how a connection ended whether to come back (protocol.md §6), and forgets the connection.
    private func connectionOutcome(closeCode: UInt16?, closeReason: String?) -> Outcome {
        let reachedSession = connectedAt != nil
        let stable = connectedAt.map { ContinuousClock.now - $0 >= configuration.stableAfter } ?? false
        connectionEnded()
        let code = closeCode ?? announcedDisconnect?.code
        let reason = closeReason.flatMap { $0.isEmpty ? nil : $0 } ?? announcedDisconnect?.reason ?? "connection lost"
        if let code, code == 4501 || code == 4502, case .provider = tokenSource.source {
            // A refused or expired token: a new one may pass, so ask for it rather than stop.
            needsToken = true
            return .retry(reason: "\(code) \(reason)", stable: false, reachedSession: reachedSession)
        }
        if let code, !Wire.shouldReconnect(afterCloseCode: code) { return .stop(code: code, reason: reason) }
        return .retry(reason: code.map { "\($0) \(reason)" } ?? reason, stable: stable, reachedSession: reachedSession)
    }

    /// After `fallbackAfterFailures` attempts in a row that never reached a session, the next transport is tried;
    /// after the last one, the first again (when every transport fails the server is probably down).
    private func chooseTransport(afterAttemptThatReachedSession reachedSession: Bool) {
        guard !reachedSession else {
            transportFailures = 0
            return
        }
        transportFailures += 1
        guard transportFailures >= configuration.fallbackAfterFailures, configuration.transports.count > 1 else { return }
        transportFailures = 0
        transportIndex = (transportIndex + 1) % configuration.transports.count
        statistics.transportSwitches += 1
    }

    /// Forgets what belonged to the connection; what it left unanswered waits for the next one.
    private func connectionEnded() {
        channel = nil
        sseSession = nil
        sseOutbox.removeAll()
        sessionReady = false
        sessionUser = nil
        pending.removeAll()
        for channel in subscriptions.keys { subscriptions[channel]?.phase = .waiting }
    }

    /// Ends the client for a failure of its own: subscriptions and waiting calls throw `failure`.
    private func fail(_ failure: Switchboard.ClientError) {
        ending = failure
        runTask?.cancel()
        channel?.close(promise: nil)
        for record in subscriptions.values { record.continuation.finish(throwing: failure) }
        subscriptions.removeAll()
        failRequests(with: failure)
        setState(.failed(failure))
        finishStateObservers()
    }

    /// Asks the provider for a new token and sends it in band; the connection and its subscriptions stay.
    private func refreshToken() async {
        guard case .provider(let provider) = tokenSource.source, !refreshing else { return }
        refreshing = true
        defer { refreshing = false }
        let session = channel.map { ObjectIdentifier($0) }
        do {
            let fresh = try await provider()
            guard ending == nil else { return }
            token = fresh
            // The connection may have changed while the provider ran; a new one already sent the new token in `connect`.
            guard let fresh, sessionReady, channel.map({ ObjectIdentifier($0) }) == session else { return }
            let id = makeCommandID()
            pending[id] = .refresh
            send(Wire.refresh(id: id, token: fresh))
        } catch {
            fail(Switchboard.ClientError(.tokenProviderFailed, "\(error)"))
        }
    }

    private func stop(code: UInt16, reason: String) {
        let error = Switchboard.ClientError(.serverStopped, reason, closeCode: code)
        ending = error
        for record in subscriptions.values { record.continuation.finish(throwing: error) }
        subscriptions.removeAll()
        failRequests(with: error)
        setState(.disconnected(code: code, reason: reason))
        finishStateObservers()
    }

    // MARK: messages

    private func handle(_ message: Wire.Inbound) {
        switch message {
        case .reply(let id, let reply):
            guard let what = pending.removeValue(forKey: id) else { return }
            switch what {
            case .connect: connectAnswered(reply)
            case .subscribe(let channel, let identifier, let sentPosition):
                subscribeAnswered(reply, channel: channel, identifier: identifier, sentPosition: sentPosition)
            case .request(let identifier): requestAnswered(reply, identifier: identifier)
            case .unsubscribe: break
            case .refresh:
                // A refused refresh is only an error reply; the server closes with 4502 when the grace period ends,
                // and the provider is asked again before the next connection.
                if case .result = reply { statistics.refreshes += 1 } else { needsToken = true }
            }
        case .publication(let publication):
            guard subscriptions[publication.channel]?.phase == .active,
                let decision = subscriptions[publication.channel]?.stream.accept(publication.position)
            else { return }
            switch decision {
            case .deliver:
                deliverPublication(publication)
            case .duplicate:
                statistics.duplicatesDropped += 1
            case .deliverAfterGap:
                statistics.gapsSeen += 1
                deliverPublication(publication)
            }
        case .reset(let reset):
            guard subscriptions[reset.channel]?.phase == .active else { return }
            subscriptions[reset.channel]?.stream.restart(at: reset.position)
            statistics.resets += 1
            deliver(.reset(reset), on: reset.channel)
        case .conflated(let channel):
            subscriptions[channel]?.stream.announceSkip()
        case .join(let channel, let member):
            deliverIfActive(.join(member), on: channel)
        case .leave(let channel, let member):
            deliverIfActive(.leave(member), on: channel)
        case .presenceUpdate(let channel, let member):
            deliverIfActive(.presenceUpdate(member), on: channel)
        case .signal(let signal):
            deliverIfActive(.signal(signal), on: signal.channel)
        case .receipt(let receipt):
            deliverIfActive(.receipt(receipt), on: receipt.channel)
        case .disconnect(let code, let reason):
            announcedDisconnect = (code, reason)
        case .refreshRequested:
            Task { await self.refreshToken() }
        case .session:
            break
        case .ignored:
            break
        }
    }

    private func connectAnswered(_ reply: Wire.Reply) {
        // A refused token is followed by the close frame (4501/4502), which decides what happens next.
        guard case .result(let result) = reply else { return }
        sessionReady = true
        sessionUser = result.string("user")
        connectedAt = .now
        statistics.connects += 1
        statistics.transport = configuration.transports[transportIndex]
        setState(.connected(client: result.string("client") ?? ""))
        for channel in subscriptions.keys where subscriptions[channel]?.phase == .waiting { sendSubscribe(channel) }
        for record in requests { sendRequest(record) }
    }

    private func subscribeAnswered(_ reply: Wire.Reply, channel: String, identifier: UInt64, sentPosition: Bool) {
        guard let record = subscriptions[channel], record.identifier == identifier else { return }
        switch reply {
        case .error(let error) where Self.isRetryable(error):
            // The engine is unavailable or busy: a new connection, after backoff, subscribes again.
            subscriptions[channel]?.phase = .waiting
            dropConnection()
        case .error(let error):
            subscriptions[channel] = nil
            record.continuation.finish(throwing: error)
        case .result(let result):
            guard let position = result.position else { return }
            subscriptions[channel]?.phase = .active
            subscriptions[channel]?.signalInterval = result.integer("signal_interval_ms").map { .milliseconds($0) }
            if !sentPosition {
                subscriptions[channel]?.stream.restart(at: position)
                deliver(.subscribed(Switchboard.Subscribed(channel: channel, position: position, recovered: nil)), on: channel)
            } else if result.bool("recovered") != false {
                deliver(.subscribed(Switchboard.Subscribed(channel: channel, position: position, recovered: true)), on: channel)
            } else {
                subscriptions[channel]?.stream.restart(at: position)
                statistics.resets += 1
                let reset = Switchboard.Reset(channel: channel, position: position, reason: result.string("reason") ?? "")
                deliver(.reset(reset), on: channel)
            }
            if let presence = result.object("presence"), let page = try? Wire.presencePage(presence, channel: channel) {
                deliver(.presence(page), on: channel)
            }
        }
    }

    private func deliverPublication(_ publication: Switchboard.Publication) {
        deliver(.publication(publication), on: publication.channel)
        // Delivery receipts are automatic, live or recovered alike; the publisher is not a recipient, and an anonymous
        // session cannot acknowledge (101).
        if publication.receipts, let user = sessionUser, publication.sender != user, subscriptions[publication.channel] != nil {
            acknowledgeDelivery(publication)
        }
    }

    /// A push about a channel (presence, signals, receipts) goes to its subscription once the subscribe reply was read.
    private func deliverIfActive(_ event: Switchboard.SubscriptionEvent, on channel: String) {
        guard subscriptions[channel]?.phase == .active else { return }
        deliver(event, on: channel)
    }

    /// Hands an event to the subscription's buffer. A consumer more than `maxBufferedEvents` behind loses its
    /// subscription: it gets what is buffered, then ``Switchboard/ClientError/Code/slowConsumer``, and the client
    /// unsubscribes (the consumer resubscribes `since` its last position, and history fills the gap).
    private func deliver(_ event: Switchboard.SubscriptionEvent, on channel: String) {
        guard let record = subscriptions[channel], case .dropped = record.continuation.yield(event) else { return }
        subscriptions[channel] = nil
        statistics.slowConsumers += 1
        record.continuation.finish(
            throwing: Switchboard.ClientError(
                .slowConsumer,
                "the subscription to \(channel) ended: its consumer was \(configuration.maxBufferedEvents) events behind; "
                    + "resubscribe since the last position handled"))
        sendUnsubscribe(channel, phase: record.phase)
    }

    private func requestAnswered(_ reply: Wire.Reply, identifier: UInt64) {
        guard let index = requests.firstIndex(where: { $0.identifier == identifier }) else { return }
        let record = requests.remove(at: index)
        guard let continuation = record.continuation else {
            // An automatic acknowledgement: a refusal (134, the publication left the history) changes nothing.
            queuedAcks -= 1
            return
        }
        switch reply {
        case .result(let result): continuation.resume(returning: result)
        case .error(let error): continuation.resume(throwing: error)
        }
    }

    /// 100 internal error, 128 rate limited, 136 engine unavailable, 137 engine timeout: worth another try later.
    private static func isRetryable(_ error: Switchboard.ServerError) -> Bool {
        [100, 128, 136, 137].contains(error.code)
    }

    // MARK: writing

    private func sendSubscribe(_ channel: String) {
        guard let record = subscriptions[channel] else { return }
        let id = makeCommandID()
        let since = record.stream.position
        pending[id] = .subscribe(channel: channel, identifier: record.identifier, sentPosition: since != nil)
        subscriptions[channel]?.phase = .subscribing
        send(Wire.subscribe(id: id, channel: channel, since: since, presenceInfo: record.presenceInfo, joinPresence: record.joinPresence))
    }

    private func sendRequest(_ record: RequestRecord) {
        let id = makeCommandID()
        pending[id] = .request(identifier: record.identifier)
        send(record.command(id))
    }

    private func send(_ command: ByteBuffer) {
        if sseSession != nil {
            sseOutbox.append(command)
            if !ssePosting {
                ssePosting = true
                Task { await self.postSSECommands() }
            }
            return
        }
        write(WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: command))
    }

    /// Sends what waits in the SSE outbox, one request at a time: two requests in flight could reach the server in
    /// either order, and commands must run in the order they were issued. A failed request ends the session (its
    /// commands may or may not have run; the next session resends what matters).
    private func postSSECommands() async {
        defer { ssePosting = false }
        while let session = sseSession, !sseOutbox.isEmpty {
            let commands = sseOutbox
            sseOutbox.removeAll()
            var body = ByteBuffer(string: "[")
            for (index, var command) in commands.enumerated() {
                if index > 0 { body.writeString(",") }
                body.writeBuffer(&command)
            }
            body.writeString("]")
            let accepted: Bool
            do {
                let response = try await HTTPTransport.request(
                    host: endpoint.host, port: endpoint.port, tls: tls, method: .POST, path: endpoint.ssePrefix + "/connection/\(session)/command",
                    headers: [("content-type", "application/json")], body: body, timeout: configuration.connectTimeout)
                accepted = response.status == 202
            } catch {
                accepted = false
            }
            // The session may have ended while the request was out; its successor has its own outbox.
            guard sseSession == session else { return }
            if !accepted {
                dropConnection()
                return
            }
        }
    }

    /// Written without waiting: a write that fails means the connection is going, and its end resends what matters.
    private func write(_ frame: WebSocketFrame) {
        channel?.writeAndFlush(frame, promise: nil)
    }

    private func dropConnection() {
        channel?.close(promise: nil)
    }

    // MARK: helpers

    private func failRequests(with error: Switchboard.ClientError) {
        let waiting = requests
        requests.removeAll()
        queuedAcks = 0
        for record in waiting { record.continuation?.resume(throwing: error) }
    }

    private func setState(_ newState: Switchboard.ConnectionState) {
        state = newState
        for observer in stateObservers.values { observer.yield(newState) }
    }

    private func finishStateObservers() {
        let observers = stateObservers
        stateObservers.removeAll()
        for observer in observers.values { observer.finish() }
    }

    private func makeCommandID() -> Int64 {
        defer { nextCommandID = nextCommandID == (1 << 53) - 1 ? 1 : nextCommandID + 1 }
        return nextCommandID
    }

    private func makeIdentifier() -> UInt64 {
        defer { nextIdentifier += 1 }
        return nextIdentifier
    }
}

import NIOCore
import SwitchboardBroker
import SwitchboardCore

/// Commands in: admission (rate, malformed) by `CommandDiscipline`, the queue that runs one engine call at a time so
/// replies leave in command order, and the one dispatch that hands each command to its family.
extension Session {
    /// Commands queued behind a pending engine call before further ones are refused.
    static let maxQueuedCommands = 1024

    enum Work {
        case command(CommandEnvelope)
        case publishWithoutReply(PublishRequest)
        /// A refusal decided on arrival, sent when the commands before it have their replies.
        case reply(ByteBuffer)
    }

    /// One command's text (a WebSocket text message or an HTTP command body).
    func receive(command text: ByteBuffer) {
        guard !isClosed, intake.disconnectAfterQueue == nil else { return }
        if case .refuse(let disconnects) = intake.discipline.admit(now: MonotonicTime.nanoseconds()) {
            let commandID = try? CommandDecoder.decode(text).get().id
            let rate = services.settings.configuration.limits.commandsPerSecond
            services.metrics.rateLimited(.commandsPerSecond)
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
            if intake.discipline.malformed() == .refuse(disconnect: true) { disconnectInOrder(.badProtocol) }
        case .success(let envelope):
            intake.discipline.wellFormed()
            if case .pong = envelope.command { return }
            guard intake.queue.enqueue(.command(envelope)) else {
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
        guard !isClosed, intake.disconnectAfterQueue == nil else { return }
        services.metrics.error(.malformedJSON)
        answerInOrder(Pushes.error(id: nil, ProtocolError(.malformedJSON, reason)))
        if intake.discipline.malformed() == .refuse(disconnect: true) { disconnectInOrder(.badProtocol) }
    }

    /// Sends a refusal decided on arrival after the replies of the commands queued before it (the protocol answers in
    /// command order); at once when nothing waits, or when the queue is full.
    private func answerInOrder(_ message: ByteBuffer) {
        if intake.queue.count == 0 && !intake.queue.isAwaitingEngine { return send(message) }
        if !intake.queue.enqueue(.reply(message)) { send(message) }
    }

    /// Ends the session once every command accepted before has its reply.
    private func disconnectInOrder(_ code: CloseCode) {
        intake.disconnectAfterQueue = code
        runCommands()
    }

    /// Publishes a raw endpoint's message in arrival order; refusals are counted, not answered (there is no reply).
    func receive(rawPublish request: PublishRequest) {
        guard !isClosed else { return }
        guard intake.queue.enqueue(.publishWithoutReply(request)) else {
            services.metrics.error(.badRequest)
            return
        }
        runCommands()
    }

    /// Runs queued commands in order; one engine call at a time keeps replies (and publish offsets) in command order.
    private func runCommands() {
        while !isClosed, let work = intake.queue.next() {
            switch work {
            case .command(let envelope):
                execute(envelope)
            case .publishWithoutReply(let request):
                intake.queue.engineCallStarted()
                publish(request) { session, _ in session.engineCallFinished() }
            case .reply(let message):
                send(message)
            }
        }
        if let code = intake.disconnectAfterQueue, !isClosed, intake.queue.count == 0, !intake.queue.isAwaitingEngine {
            intake.disconnectAfterQueue = nil
            disconnect(code)
        }
    }

    /// A family is calling the engine for the command being executed: the commands behind it wait for its answer.
    func engineCallStarted() {
        intake.queue.engineCallStarted()
    }

    /// The command that called the engine has its answer (or its deadline passed): the next one may run.
    func engineCallFinished() {
        intake.queue.engineCallFinished()
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
        case .connect(let token, let info, let batch, let sdk):
            connect(id: id, token: token, info: info, batch: batch, sdk: sdk)
        case .refresh(let token):
            refresh(id: id, token: token)
        case .subscribe(let channel, let since, let token, let maxRate, let info, let join):
            subscribe(id: id, channel: channel, since: since, token: token, choices: .init(maxRate: maxRate, info: info, join: join))
        case .unsubscribe(let channel):
            unsubscribe(id: id, channel: channel)
        case .publish(let channel, let data, let idempotencyKey, let key, let highPriority, let receipts):
            let request = PublishRequest(
                channel: channel, data: data, sender: user, idempotencyKey: idempotencyKey, key: key, highPriority: highPriority, receipts: receipts)
            publish(id: id, request)
        case .presence(let channel, let cursor, let limit):
            presence(id: id, channel: channel, cursor: cursor, limit: limit)
        case .presenceUpdate(let channel, let info):
            updatePresence(id: id, channel: channel, info: info)
        case .history(let channel, let query):
            history(id: id, channel: channel, query: query)
        case .signal(let channel, let type, let data):
            signal(id: id, channel: channel, type: type, data: data)
        case .ack(let channel, let offset, let status):
            acknowledge(id: id, channel: channel, offset: offset, status: status)
        case .receipts(let channel, let offset):
            receipts(id: id, channel: channel, offset: offset)
        }
    }
}

/// A session's inbound command state (pure values from Core, carried out by `Session+Commands`).
struct CommandIntake {
    /// Work waiting its turn: commands, and publishes from the raw endpoint (which have no reply).
    var queue = CommandQueue<Session.Work>(capacity: Session.maxQueuedCommands)
    var discipline: CommandDiscipline
    /// The client went past a tolerance (command flood, malformed commands): once the commands accepted before have
    /// their replies, the session ends with this code. Nothing more is read meanwhile.
    var disconnectAfterQueue: CloseCode?
}

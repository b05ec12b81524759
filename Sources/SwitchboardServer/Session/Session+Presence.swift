import NIOCore
import SwitchboardBroker
import SwitchboardCore

/// Presence: the `presence` command's pages, and leaving a channel's presence when a subscription ends.
extension Session {
    func presence(id: Int64, channel: ChannelName, cursor: String?, limit: Int) {
        let options: NamespaceOptions
        switch services.channels.options(for: channel) {
        case .success(let value): options = value
        case .failure(let error): return refuse(id, error)
        }
        if let error = Permissions.presence(channel, options: options, identity: identity) { return refuse(id, error) }
        engineCallStarted()
        let broker = services.engine
        performEngineCall("presence", { try await broker.presence(channel: channel, after: cursor, limit: limit) }) { session, result in
            defer { session.engineCallFinished() }
            switch result {
            case .failure(let error):
                session.refuse(id, error)
            case .success(let page):
                session.send(
                    Pushes.reply(id: id) { writer in
                        writer.key("channel"); writer.string(channel.rawValue)
                        Pushes.writePresencePage(page, into: &writer)
                    })
            }
        }
    }

    /// Leaves after every earlier presence call of this session (its join included) has ended: a leave that
    /// overtook its join would leave a ghost member behind.
    func leavePresence(_ channel: ChannelName) {
        let broker = services.engine
        let client = id
        let options = try? services.channels.options(for: channel).get()
        let announce = (options?.presence ?? false) && (options?.joinLeave ?? true)
        let metrics = services.metrics
        live.presenceOrder.runDetached {
            do {
                try await broker.presenceLeave(client: client, channel: channel, announce: announce)
            } catch {
                // Nobody waits for this answer: count it. The member stays until the engine drops it.
                metrics.error(ProtocolError(engineFailure: error, operation: "presence_leave").code)
            }
        }
    }
}

/// Runs a session's presence calls one after another, in the order they were asked for.
///
/// Each call starts when the previous one has ended (answered, failed, or past its deadline), so a join and the leave
/// of the same subscription reach the engine in that order even when the join is slow. Loop-confined like the session.
final class EngineCallSequence {
    private var tail: Task<Void, Never>?

    /// Runs `work` after every earlier call; its result comes back on the session's loop as an engine call's does.
    func run<Value: Sendable>(
        on session: Session, operation: String, _ work: @escaping @Sendable () async throws -> Value,
        then completion: @escaping (Session, Result<Value, ProtocolError>) -> Void
    ) {
        let previous = tail
        let (gate, opened) = AsyncStream<Void>.makeStream()
        tail = Task {
            await previous?.value
            // Ends when the session's call below has its answer.
            for await _ in gate {}
        }
        session.performEngineCall(
            operation,
            {
                await previous?.value
                defer { opened.finish() }
                return try await work()
            }, then: completion)
    }

    /// Runs `work` after every earlier call, with nobody waiting for it.
    func runDetached(_ work: @escaping @Sendable () async -> Void) {
        let previous = tail
        tail = Task {
            await previous?.value
            await work()
        }
    }
}

extension Session {
    /// `presence_update`: replaces this connection's info on a presence channel it is subscribed to; the others
    /// who see presence get a `presence_update` push.
    func updatePresence(id: Int64, channel: ChannelName, info: ByteBuffer?) {
        let options: NamespaceOptions
        switch services.channels.options(for: channel) {
        case .success(let value): options = value
        case .failure(let error): return refuse(id, error)
        }
        guard options.presence else { return refuse(id, ProtocolError(.presenceNotEnabled, "namespace does not track presence")) }
        guard let subscription = subscriptions[channel], subscription.joinsPresence else {
            return refuse(id, ProtocolError(.notSubscribed, "subscribe to \(channel) before updating your presence on it"))
        }
        engineCallStarted()
        let broker = services.engine
        let client = self.id
        let announce = options.joinLeave
        // In presence order: after this subscription's join, before its leave.
        live.presenceOrder.run(
            on: self, operation: "presence_update",
            { try await broker.presenceUpdate(client: client, info: info, channel: channel, announce: announce) }
        ) { session, result in
            defer { session.engineCallFinished() }
            switch result {
            case .failure(let error): session.refuse(id, error)
            case .success(true): session.send(Pushes.reply(id: id))
            case .success(false):
                // The subscription ended while the update waited for its turn.
                session.refuse(id, ProtocolError(.notSubscribed, "not subscribed to \(channel)"))
            }
        }
    }
}

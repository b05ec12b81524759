import NIOCore
import SwitchboardBroker
import SwitchboardCore

/// The `history` command: a page of a channel's held publications, for whoever may subscribe to it.
extension Session {
    func history(id: Int64, channel: ChannelName, query: HistoryQuery) {
        // A subscription proves the right to read (also one opened with a subscription token); otherwise the same
        // check as a subscribe without a token.
        if subscriptions[channel] == nil, let error = services.channels.checkSubscribe(channel, identity: identity) {
            return refuse(id, error)
        }
        engineCallStarted()
        let broker = services.engine
        performEngineCall(
            "history", { try await query.run { after, limit in try await broker.history(channel: channel, after: after, limit: limit) } }
        ) { session, result in
            defer { session.engineCallFinished() }
            switch result {
            case .failure(let error):
                session.refuse(id, error)
            case .success(let answer):
                session.send(Pushes.reply(id: id) { Pushes.writeHistory(channel: channel, answer, into: &$0) })
            }
        }
    }
}

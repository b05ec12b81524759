import SwitchboardBroker
import SwitchboardCore

/// Publishing from the client: the `publish` command (answered with the position) and raw-endpoint messages.
extension Session {
    func publish(id: Int64, _ request: PublishRequest) {
        engineCallStarted()
        publish(request) { session, result in
            switch result {
            case .success(let result):
                session.send(Pushes.reply(id: id) { PublishReply.write(result, into: &$0) })
            case .failure(let error):
                session.send(Pushes.error(id: id, error))
            }
            session.engineCallFinished()
        }
    }

    /// Publishes on behalf of this session's client and hands the result back on the loop.
    func publish(_ request: PublishRequest, then completion: @escaping (Session, Result<PublishResult, ProtocolError>) -> Void) {
        let services = self.services
        let client = ClientPublisher(identity: identity, session: id)
        perform({ await services.publishing.publish(request, client: client) }, then: completion)
    }
}

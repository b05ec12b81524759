import NIOCore
import SwitchboardCore

/// Who the client is: `connect` (token, info, batching, SDK), in-band `refresh`, and the expiry of the token in use.
extension Session {
    func connect(id: Int64, token: String?, info: ByteBuffer?, batch: Bool, sdk: String?) {
        if let info { client.info = info }
        transport?.setBatching(batch)
        guard let token else { return replyConnected(id, sdk: sdk) }
        engineCallStarted()
        let verifier = services.tokens
        perform({ await verifier.connectionIdentity(token) }) { session, result in
            defer { session.engineCallFinished() }
            switch result {
            case .success(let identity):
                if let user = identity?.user, user != session.client.countedUser {
                    if let error = session.services.connections.admit(user: user) {
                        session.refuse(id, error)
                        session.disconnect(.rateLimited)
                        return
                    }
                    if let previous = session.client.countedUser { session.services.connections.release(user: previous) }
                    session.client.countedUser = user
                }
                session.client.identity = identity
                session.replyConnected(id, sdk: sdk)
            case .failure(let error):
                session.refuse(id, error)
                session.disconnect(error.code == .tokenExpired ? .tokenExpired : .invalidToken)
            }
        }
    }

    func refresh(id: Int64, token: String) {
        engineCallStarted()
        let verifier = services.tokens
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
    }

    /// Takes a verified refreshed token's identity; refused when it names another user than the session's.
    func installRefreshed(_ identity: Identity?) -> ProtocolError? {
        guard identity?.user == user else { return ProtocolError(.invalidToken, "a refreshed token must be for the same user") }
        client.identity = identity
        client.tokenExpiry.refreshed()
        return nil
    }

    /// An expired token gets one `refresh` push; without a refresh within the grace period the session ends (4502).
    func checkTokenExpiry() {
        guard let expiresAt = identity?.expiresAt else { return }
        let auth = services.settings.configuration.auth
        let action = client.tokenExpiry.check(
            now: services.tokens.currentTime, expiresAt: expiresAt, leeway: services.tokens.validator.leeway,
            graceSeconds: auth.refreshGrace.components.seconds)
        switch action {
        case .none:
            return
        case .expire:
            disconnect(.tokenExpired)
        case .askForRefresh:
            let graceMilliseconds = Int64(TimeAmount(auth.refreshGrace).nanoseconds / 1_000_000)
            send(Pushes.refresh(graceMilliseconds: graceMilliseconds))
        }
    }

    /// The `connect` reply, then the operator's deprecation notice when it concerns this client's SDK (protocol §13).
    private func replyConnected(_ id: Int64, sdk: String?) {
        defer {
            let notice = services.settings.configuration.deprecationNotice
            if notice.concerns(sdk: sdk) { send(Pushes.notice(notice)) }
        }
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

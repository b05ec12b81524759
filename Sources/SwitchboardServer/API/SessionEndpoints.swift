import Hummingbird
import NIOCore
import SwitchboardCore

/// HTTP endpoints that drive sessions without a WebSocket: opening and reading long-poll sessions, sending commands
/// to SSE and long-poll sessions, and refreshing their token. Commands and their replies are the WebSocket
/// protocol's; replies and pushes travel on the session's stream (SSE events or poll responses), in order.
struct SessionEndpoints {
    /// What the sessions opened here need, and the hub that places them on a loop.
    let services: StreamServices

    func register(on router: Router<SwitchboardRequestContext>) {
        router.post("/connection/poll") { request, context in try await self.openPoll(request, remoteAddress: context.clientAddress) }
        router.get("/connection/poll/:session") { request, context in try await self.poll(request, session: context.parameters.get("session") ?? "") }
        router.delete("/connection/poll/:session") { request, context in
            try await self.closePoll(request, session: context.parameters.get("session") ?? "")
        }
        router.post("/connection/:session/command") { request, context in
            try await self.commands(request, session: context.parameters.get("session") ?? "")
        }
        router.post("/connection/refresh") { request, _ in try await self.refresh(request) }
    }

    // MARK: long-poll

    private func openPoll(_ request: Request, remoteAddress: String) async throws -> Response {
        if services.session.drain.isDraining {
            var error = APIError(.serviceUnavailable, .shuttingDown, "server is shutting down; retry")
            error.headers[.retryAfter] = "1"
            throw error
        }
        let limit = services.settings.limits.maxConnections
        if limit > 0 && services.session.registry.count >= limit {
            services.metrics.error(.rateLimited)
            var error = APIError(.serviceUnavailable, .rateLimited, "server connection limit reached (limits.max_connections)")
            error.headers[.retryAfter] = "1"
            throw error
        }
        let identity = try await verifiedIdentity(of: request)
        if let user = identity?.user, let error = services.session.connections.admit(user: user) {
            services.session.audit.record("limit_hit", ["limit": "connections_per_user", "user": user])
            var refusal = APIError(error)
            refusal.status = .tooManyRequests
            refusal.headers[.retryAfter] = "1"
            throw refusal
        }
        let loopHub = services.hub.nextLoopHub()
        let services = self.services
        let id = try await loopHub.loop.submit {
            PollTransport.openSession(on: loopHub, services: services.session, identity: identity, remoteAddress: remoteAddress)
        }.get()
        return json(
            Pushes.object {
                $0.key("session"); $0.string(id); $0.key("seq"); $0.uint(0)
            })
    }

    private func poll(_ request: Request, session id: String) async throws -> Response {
        if let owner = services.forwarder.otherOwner(of: id) {
            // The owner holds the poll up to its own `poll.timeout_ms`: the deadline waits for that too.
            return try await services.forwarder.forward(request, body: nil, to: owner, extraWait: services.settings.configuration.poll.timeout)
        }
        let query = request.uri.queryParameters
        var ack: UInt64 = 0
        if let text = query["ack"] {
            guard let value = UInt64(text) else { throw APIError(.badRequest, .badRequest, "ack must be a sequence number") }
            ack = value
        }
        let longest = TimeAmount(services.settings.configuration.poll.timeout)
        var timeout = longest
        if let text = query["timeout"] {
            guard let milliseconds = Int64(text), milliseconds >= 0 else { throw APIError(.badRequest, .badRequest, "timeout must be milliseconds") }
            timeout = min(.milliseconds(milliseconds), longest)
        }
        let body = await services.session.registry.withSession(
            id,
            future: { [ack, timeout] session in
                (session.transport as? PollTransport)?.poll(ack: ack, timeout: timeout)
            })
        guard let body else { throw sessionNotFound(id) }
        return json(body, headers: [.cacheControl: "no-store"])
    }

    private func closePoll(_ request: Request, session id: String) async throws -> Response {
        if let owner = services.forwarder.otherOwner(of: id) { return try await services.forwarder.forward(request, body: nil, to: owner) }
        let closed = await services.session.registry.withSession(id) { session -> Bool? in
            guard let transport = session.transport as? PollTransport else { return nil }
            transport.finish()
            return true
        }
        guard closed != nil else { throw sessionNotFound(id) }
        return Response(status: .noContent)
    }

    // MARK: commands

    private func commands(_ request: Request, session id: String) async throws -> Response {
        let body = try await request.collectBody(limit: services.settings.limits.maxMessageBytes, metrics: services.metrics)
        if let owner = services.forwarder.otherOwner(of: id) { return try await services.forwarder.forward(request, body: body, to: owner) }
        // The whole body must be JSON before anything is accepted: a broken body is refused here (400 111) rather
        // than answered 202 and refused later on the stream.
        guard (try? JSONScanner.validateAndMinify(body)) != nil else { throw notCommands() }
        let commands: [ByteBuffer]
        switch JSONScanner.kind(of: body) {
        case .object:
            commands = [body]
        case .array:
            guard let elements = try? JSONScanner.arrayElements(body) else { throw notCommands() }
            commands = elements
        default:
            throw notCommands()
        }
        let accepted = await services.session.registry.withSession(id) { session -> Int? in
            guard !session.isClosed, (session.transport as? PollTransport)?.isEnding != true else { return nil }
            session.noteInbound()
            for command in commands { session.receive(command: command) }
            return commands.count
        }
        guard let accepted else { throw sessionNotFound(id) }
        return json(
            Pushes.object {
                $0.key("accepted"); $0.int(Int64(accepted))
            }, status: .accepted)
    }

    /// `POST /connection/refresh` with `{"session":ID,"token":JWT}`: installs a fresh token on an SSE or long-poll
    /// session and answers with its expiry, for clients that prefer a direct answer to the `refresh` command.
    private func refresh(_ request: Request) async throws -> Response {
        let body = try await request.collectBody(limit: services.settings.limits.maxMessageBytes, metrics: services.metrics)
        var fields: [String: ByteBuffer] = [:]
        for member in (try? JSONScanner.objectMembers(body)) ?? [] { fields[member.key] = member.value }
        guard let id = fields["session"].flatMap(JSONScanner.decodeString), let token = fields["token"].flatMap(JSONScanner.decodeString),
            !token.isEmpty
        else {
            throw APIError(.badRequest, .badRequest, "send {\"session\":ID,\"token\":JWT}")
        }
        if let owner = services.forwarder.otherOwner(of: id) { return try await services.forwarder.forward(request, body: body, to: owner) }
        let identity: Identity?
        switch await services.session.tokens.connectionIdentity(token) {
        case .success(let verified): identity = verified
        case .failure(let error): throw tokenRefused(error)
        }
        let outcome = await services.session.registry.withSession(id) { session -> ProtocolError?? in .some(session.installRefreshed(identity)) }
        guard let outcome else { throw sessionNotFound(id) }
        if let error = outcome { throw tokenRefused(error) }
        return json(Pushes.object { writer in if let expires = identity?.expiresAt { writer.key("expires"); writer.int(expires) } })
    }

    // MARK: helpers

    private func verifiedIdentity(of request: Request) async throws -> Identity? {
        let query = URLParts.split(request.uri.description).query
        let token = TokenSources.token(
            authorization: request.headers[.authorization], cookieHeaders: request.headers[values: .cookie], query: query)
        guard let token else { return nil }
        switch await services.session.tokens.connectionIdentity(token) {
        case .success(let identity): return identity
        case .failure(let error): throw tokenRefused(error)
        }
    }

    private func tokenRefused(_ error: ProtocolError) -> APIError {
        services.metrics.error(error.code)
        services.session.audit.record("auth_failed", ["kind": "connection_token", "code": String(error.code.rawValue)])
        var refusal = APIError(error)
        refusal.status = .unauthorized
        refusal.headers[.wwwAuthenticate] = "Bearer"
        return refusal
    }

    private func sessionNotFound(_ id: String) -> APIError {
        services.metrics.error(.sessionNotFound)
        return APIError(.notFound, .sessionNotFound, "no open session with this id; open a new one and resubscribe from your positions")
    }

    private func notCommands() -> APIError {
        services.metrics.error(.malformedJSON)
        return APIError(.badRequest, .malformedJSON, "body must be a command object or an array of commands")
    }
}

private func json(_ body: ByteBuffer, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    var headers = headers
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: .init(byteBuffer: body))
}

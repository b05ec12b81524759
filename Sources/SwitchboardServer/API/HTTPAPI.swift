import Hummingbird
import NIOConcurrencyHelpers
import NIOCore
import SwitchboardBroker
import SwitchboardCore

/// The HTTP API: publishing and history for application backends (API key), health, readiness and metrics.
struct HTTPAPI {
    let engine: any Broker
    let channels: ChannelRules
    let publishing: PublishPath
    /// `/readyz` answers 503 while the server drains.
    let drain: DrainState
    let originPolicy: OriginPolicy
    let metrics: ServerMetrics
    let audit: AuditLog
    /// `limits.max_message_bytes`: the largest request body.
    let maxBodyBytes: Int
    let apiKey: String
    /// Where operators' orders are applied on this node (`POST /api/disconnect`, `POST /api/revoke`).
    let control: Hub
    /// Keeps revocations; its clock dates them.
    let tokens: TokenVerifier
    /// `limits.api_requests_per_second`, per API key.
    let apiRequests: KeyedRateLimiter
    /// Wrong API keys per client address (`limits.api_key_failures_per_minute`).
    let apiKeyFailures: NIOLockedValueBox<FailureThrottle>

    func register(on router: Router<SwitchboardRequestContext>) {
        router.middlewares.add(CORSMiddleware(policy: originPolicy))
        router.middlewares.add(RefusalLogMiddleware())
        router.middlewares.add(JSONErrorMiddleware())
        // Stream endpoints are served by NIO handlers only on the first request of a connection. A browser that
        // reuses a keep-alive connection (e.g. after loading a page from the web root) lands here instead: send it to
        // the same URL on a new connection.
        for path in ["/connection/sse", "/raw/sse/**", "/connection/websocket", "/raw/ws/**"] {
            router.get(RouterPath(path)) { request, _ in
                Response(status: .temporaryRedirect, headers: [.location: request.uri.description, .connection: "close", .contentLength: "0"])
            }
        }
        router.post("/api/publish") { request, context in try await self.publish(request, context: context) }
        router.get("/api/history") { request, context in try await self.history(request, context: context) }
        router.get("/api/presence") { request, context in try await self.presence(request, context: context) }
        router.get("/api/receipts") { request, context in try await self.receipts(request, context: context) }
        router.post("/api/disconnect") { request, context in try await self.disconnect(request, context: context) }
        router.post("/api/revoke") { request, context in try await self.revoke(request, context: context) }
        router.get("/healthz") { _, _ in json(#"{"status":"ok"}"#) }
        router.get("/readyz") { _, _ in
            if drain.isDraining { return json(#"{"status":"draining"}"#, status: .serviceUnavailable) }
            if !engine.isAvailable { return json(#"{"status":"engine_unavailable"}"#, status: .serviceUnavailable) }
            return json(#"{"status":"ready"}"#)
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition()))
            )
        }
    }

    // MARK: publish

    private func publish(_ request: Request, context: SwitchboardRequestContext) async throws -> Response {
        try authorize(request, context: context)
        let body = try await request.collectBody(limit: maxBodyBytes, metrics: metrics)
        let members: [JSONMember]
        do {
            members = try JSONScanner.objectMembers(body)
        } catch {
            metrics.error(.invalidData)
            throw APIError(.badRequest, .invalidData, "body is not valid JSON: \(error)")
        }
        if let batch = members.first(where: { $0.key == "publications" })?.value {
            return try await publishBatch(batch)
        }
        let result = try await publishOne(members).get()
        return json(Pushes.object { PublishReply.write(result, into: &$0) })
    }

    /// Publishes each item in order; not atomic: each item gets its own result.
    private func publishBatch(_ raw: ByteBuffer) async throws -> Response {
        guard JSONScanner.kind(of: raw) == .array, let items = try? JSONScanner.arrayElements(raw) else {
            throw APIError(.badRequest, .badRequest, "publications must be an array of {channel, data} objects")
        }
        // Decoded first, then published together in order: one engine call for the whole batch.
        var results: [Result<PublishResult, APIError>?] = []
        var requests: [(index: Int, request: PublishRequest)] = []
        for item in items {
            guard let members = try? JSONScanner.objectMembers(item) else {
                results.append(.failure(APIError(.badRequest, .badRequest, "each publication must be an object")))
                continue
            }
            switch decodePublication(members) {
            case .success(let request):
                requests.append((results.count, request))
                results.append(nil)
            case .failure(let error):
                results.append(.failure(error))
            }
        }
        let published = await publishing.publishBatch(requests.map(\.request))
        for ((index, _), result) in zip(requests, published) { results[index] = result.mapError { APIError($0) } }
        return json(
            Pushes.object { writer in
                writer.key("results")
                writer.beginArray()
                for result in results {
                    writer.beginObject()
                    switch result! {
                    case .success(let result): PublishReply.write(result, into: &writer)
                    case .failure(let error):
                        writer.key("error")
                        Pushes.writeError(error.error, into: &writer)
                    }
                    writer.endObject()
                }
                writer.endArray()
            }
        )
    }

    private func publishOne(_ members: [JSONMember]) async -> Result<PublishResult, APIError> {
        switch decodePublication(members) {
        case .success(let request): return await publishing.publish(request, client: nil).mapError { APIError($0) }
        case .failure(let error): return .failure(error)
        }
    }

    /// One publication of the API's body, validated.
    private func decodePublication(_ members: [JSONMember]) -> Result<PublishRequest, APIError> {
        var fields: [String: ByteBuffer] = [:]
        for member in members { fields[member.key] = member.value }
        let channel: ChannelName
        switch CommandDecoder.decodeChannel(fields["channel"]) {
        case .success(let value): channel = value
        case .failure(let error):
            metrics.error(error.code)
            return .failure(APIError(error))
        }
        guard let rawData = fields["data"], let data = try? JSONScanner.validateAndMinify(rawData) else {
            metrics.error(.badRequest)
            return .failure(APIError(.badRequest, .badRequest, "data is required"))
        }
        var key: String?
        if let rawKey = fields["idempotencyKey"], JSONScanner.kind(of: rawKey) != .null {
            guard let value = JSONScanner.decodeString(rawKey), !value.isEmpty, value.utf8.count <= CommandDecoder.maxIdempotencyKeyLength else {
                return .failure(APIError(.badRequest, .badRequest, "idempotencyKey must be a short string"))
            }
            key = value
        }
        let metadata: CommandDecoder.PublishMetadata
        switch CommandDecoder.decodePublishMetadata(fields) {
        case .success(let value): metadata = value
        case .failure(let error): return .failure(APIError(error))
        }
        return .success(
            PublishRequest(
                channel: channel, data: data, idempotencyKey: key, key: metadata.key, highPriority: metadata.highPriority,
                receipts: metadata.receipts))
    }

    // MARK: history

    private func history(_ request: Request, context: SwitchboardRequestContext) async throws -> Response {
        try authorize(request, context: context)
        let query = request.uri.queryParameters
        let channel = try channelParameter(query["channel"].map(String.init))
        if case .failure(let error) = channels.options(for: channel) { throw APIError(error) }
        var historyQuery = HistoryQuery()
        var starts = 0
        if let text = query["since"] {
            guard let position = StreamPosition(parsing: text[...]) else {
                metrics.error(.invalidPosition)
                throw APIError(.badRequest, .invalidPosition, "since must be EPOCH:OFFSET")
            }
            historyQuery.start = .since(position)
            starts += 1
        }
        if let text = query["before"] {
            guard let value = UInt64(text), value >= 1, value <= StreamPosition.maxOffset else {
                throw APIError(.badRequest, .badRequest, "before must be a positive offset")
            }
            historyQuery.start = .before(value)
            starts += 1
        }
        if let text = query["latest"] {
            guard text == "true" || text == "false" else { throw APIError(.badRequest, .badRequest, "latest must be true or false") }
            if text == "true" {
                historyQuery.start = .latest
                starts += 1
            }
        }
        guard starts <= 1 else { throw APIError(.badRequest, .badRequest, "give at most one of since, before and latest") }
        if let text = query["limit"] {
            guard let value = Int(text), value >= 1, value <= HistoryQuery.maxLimit else {
                throw APIError(.badRequest, .badRequest, "limit must be 1–\(HistoryQuery.maxLimit)")
            }
            historyQuery.limit = value
        }
        let answer = try await engine("history") { broker in
            try await historyQuery.run { after, limit in try await broker.history(channel: channel, after: after, limit: limit) }
        }
        return json(Pushes.object { Pushes.writeHistory(channel: channel, answer, into: &$0) })
    }

    // MARK: presence

    private func presence(_ request: Request, context: SwitchboardRequestContext) async throws -> Response {
        try authorize(request, context: context)
        let query = request.uri.queryParameters
        let channel = try channelParameter(query["channel"].map(String.init))
        try requireOption(channel, \.presence, else: ProtocolError(.presenceNotEnabled, "namespace does not track presence"))
        var limit = 100
        if let text = query["limit"] {
            guard let value = Int(text), value >= 1, value <= PresenceTable.maxPageSize else {
                throw APIError(.badRequest, .badRequest, "limit must be 1–\(PresenceTable.maxPageSize)")
            }
            limit = value
        }
        let cursor = query["cursor"].map(String.init)
        let page = try await engine("presence") { try await $0.presence(channel: channel, after: cursor, limit: limit) }
        return json(
            Pushes.object { writer in
                writer.key("channel"); writer.string(channel.rawValue)
                Pushes.writePresencePage(page, into: &writer)
            })
    }

    // MARK: receipts

    private func receipts(_ request: Request, context: SwitchboardRequestContext) async throws -> Response {
        try authorize(request, context: context)
        let query = request.uri.queryParameters
        let channel = try channelParameter(query["channel"].map(String.init))
        try requireOption(channel, \.receipts, else: ProtocolError(.receiptsNotEnabled, "namespace does not keep receipts"))
        guard let text = query["offset"], let offset = UInt64(text), offset >= 1 else {
            throw APIError(.badRequest, .badRequest, "offset must be a positive integer")
        }
        guard let record = try await engine("receipts", { try await $0.receipts(channel: channel, offset: offset) }) else {
            throw APIError(.notFound, .receiptNotFound, Session.noReceipt(channel, offset).reason)
        }
        return json(
            Pushes.object { writer in
                writer.key("channel"); writer.string(channel.rawValue)
                Pushes.writeReceipts(record, offset: offset, into: &writer)
            })
    }

    // MARK: helpers

    /// Calls the engine; a failure becomes the HTTP refusal its engine error maps to (never a 200).
    func engine<Value>(_ operation: String, _ call: (any Broker) async throws -> Value) async throws -> Value {
        do {
            return try await call(engine)
        } catch {
            let refusal = ProtocolError(engineFailure: error, operation: operation)
            metrics.error(refusal.code)
            throw APIError(refusal)
        }
    }

    /// Refuses with `refusal` (400) unless the channel's namespace is served and has `option` on.
    private func requireOption(_ channel: ChannelName, _ option: KeyPath<NamespaceOptions, Bool>, else refusal: ProtocolError) throws {
        switch channels.options(for: channel) {
        case .failure(let error): throw APIError(error)
        case .success(let options):
            guard options[keyPath: option] else { throw APIError(.badRequest, refusal.code, refusal.reason) }
        }
    }

    private func channelParameter(_ name: String?) throws -> ChannelName {
        guard let name else { throw APIError(.badRequest, .badRequest, "channel is required") }
        do {
            return try ChannelName(validating: name)
        } catch {
            metrics.error(.invalidChannel)
            throw APIError(.badRequest, .invalidChannel, error.reason)
        }
    }

    /// Checks the API key. An address that sent `limits.api_key_failures_per_minute` wrong keys is answered 429 until
    /// its minute is over, before its key is looked at (a different answer for the right key would end the guessing).
    func authorize(_ request: Request, context: SwitchboardRequestContext) throws {
        let address = context.clientAddress
        let now = MonotonicTime.nanoseconds()
        if case .shutOut(let retryAfter) = apiKeyFailures.withLockedValue({ $0.check(address, now: now) }) {
            metrics.rateLimited(.apiKeyFailuresPerMinute)
            var error = APIError(.tooManyRequests, .rateLimited, "too many wrong API keys from this address (limits.api_key_failures_per_minute)")
            error.headers[.retryAfter] = String(retryAfter)
            throw error
        }
        guard let header = request.headers[.authorization] else {
            metrics.error(.invalidAPIKey)
            throw APIError(.unauthorized, .invalidAPIKey, "send Authorization: apikey <KEY>")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "apikey", ConstantTime.equal(String(parts[1]), apiKey) else {
            apiKeyFailures.withLockedValue { $0.recordFailure(address, now: now) }
            metrics.error(.invalidAPIKey)
            audit.record("auth_failed", ["kind": "api_key", "path": request.uri.path, "remote": address])
            throw APIError(.unauthorized, .invalidAPIKey, "wrong API key")
        }
        guard apiRequests.allow(apiKey) else {
            metrics.rateLimited(.apiRequestsPerSecond)
            var error = APIError(.tooManyRequests, .rateLimited, "API request rate limit reached (limits.api_requests_per_second)")
            error.headers[.retryAfter] = "1"
            throw error
        }
        audit.record("api_call", ["method": request.method.rawValue, "path": request.uri.path])
    }
}

private func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
    json(ByteBuffer(string: text), status: status)
}

private func json(_ body: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
}

enum ConstantTime {
    /// Compares secrets without an early exit, so timing does not tell how much of a guess was right.
    static func equal(_ lhs: String, _ rhs: String) -> Bool {
        let a = Array(lhs.utf8)
        let b = Array(rhs.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}

extension Request {
    /// The whole body, at most `limits.max_message_bytes` (else `413` `110`).
    func collectBody(limit: Int, metrics: ServerMetrics) async throws -> ByteBuffer {
        do {
            return try await body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            metrics.error(.messageTooLarge)
            throw APIError(.contentTooLarge, .messageTooLarge, "body larger than \(limit) bytes (limits.max_message_bytes)")
        }
    }
}

import SwitchboardBroker
import SwitchboardCore

/// The one publish path, for client publishes (``Session``), the HTTP API (one publication or a batch) and the demo
/// ticker: namespace rules, publish rate limits, the engine, and the metrics and audit records of each outcome.
final class PublishPath: Sendable {
    private let engine: any Broker
    private let channels: ChannelRules
    private let metrics: ServerMetrics
    private let audit: AuditLog
    private let publishesPerUser: KeyedRateLimiter
    private let publishesPerChannel: KeyedRateLimiter

    init(engine: any Broker, channels: ChannelRules, metrics: ServerMetrics, audit: AuditLog) {
        let limits = channels.configuration.limits
        self.engine = engine
        self.channels = channels
        self.metrics = metrics
        self.audit = audit
        self.publishesPerUser = KeyedRateLimiter(rate: limits.publishesPerSecondPerUser)
        self.publishesPerChannel = KeyedRateLimiter(rate: limits.publishesPerSecondPerChannel)
    }

    /// Publishes the HTTP API's validated batch in order, in one engine call (one transaction on the SQLite engine);
    /// each request gets its own result, as if published one by one through ``publish(_:client:)`` with no client.
    func publishBatch(_ requests: [PublishRequest]) async -> [Result<PublishResult, ProtocolError>] {
        var results = [Result<PublishResult, ProtocolError>?](repeating: nil, count: requests.count)
        var accepted: [(index: Int, request: PublishRequest)] = []
        for (index, request) in requests.enumerated() {
            if let refusal = namespaceRefusal(request) {
                metrics.error(refusal.code)
                results[index] = .failure(refusal)
            } else {
                accepted.append((index, request))
            }
        }
        let published = accepted.isEmpty ? [] : await engine.publish(batch: accepted.map(\.request))
        for ((index, _), result) in zip(accepted, published) {
            switch result {
            case .success(let result):
                if !result.isDuplicate {
                    metrics.published(source: "api")
                    metrics.publicationAccepted(bytes: requests[index].data.readableBytes)
                }
                results[index] = .success(result)
            case .failure(let error):
                let refusal = ProtocolError(engineFailure: error, operation: "publish")
                metrics.error(refusal.code)
                results[index] = .failure(refusal)
            }
        }
        return results.map { $0! }
    }

    /// Why the request's namespace refuses it whoever publishes: unknown namespace, or receipts it does not keep.
    private func namespaceRefusal(_ request: PublishRequest) -> ProtocolError? {
        switch channels.options(for: request.channel) {
        case .failure(let error): return error
        case .success(let options):
            guard !request.receipts || options.receipts else {
                return ProtocolError(.receiptsNotEnabled, "namespace does not keep receipts")
            }
            return nil
        }
    }

    /// Publishes validated data. A client publish (`client` set) is checked against the namespace and the token's
    /// capabilities; the HTTP API (authenticated by API key) may publish anywhere.
    func publish(_ request: PublishRequest, client: ClientPublisher?) async -> Result<PublishResult, ProtocolError> {
        switch channels.options(for: request.channel) {
        case .failure(let error):
            metrics.error(error.code)
            return .failure(error)
        case .success(let options):
            if request.receipts && !options.receipts {
                metrics.error(.receiptsNotEnabled)
                return .failure(ProtocolError(.receiptsNotEnabled, "namespace does not keep receipts"))
            }
            if let client {
                if let error = Permissions.publish(request.channel, options: options, identity: client.identity) {
                    metrics.error(error.code)
                    audit.record(
                        "permission_denied",
                        [
                            "action": "publish", "channel": request.channel.rawValue, "user": client.identity?.user, "session": client.session,
                            "code": String(error.code.rawValue),
                        ])
                    return .failure(error)
                }
                let publisher = client.identity?.user ?? "session:" + client.session
                let limit: RateLimit? =
                    !publishesPerUser.allow(publisher)
                    ? .publishesPerSecondPerUser : !publishesPerChannel.allow(request.channel.rawValue) ? .publishesPerSecondPerChannel : nil
                if let limit {
                    metrics.rateLimited(limit)
                    audit.record("limit_hit", ["limit": "publishes_per_second", "channel": request.channel.rawValue, "user": client.identity?.user])
                    return .failure(ProtocolError(.rateLimited, "publish rate limit reached; retry later"))
                }
            }
        }
        do {
            let result = try await engine.publish(request)
            if !result.isDuplicate {
                metrics.published(source: client == nil ? "api" : "client")
                metrics.publicationAccepted(bytes: request.data.readableBytes)
            }
            return .success(result)
        } catch {
            let refusal = ProtocolError(engineFailure: error, operation: "publish")
            metrics.error(refusal.code)
            return .failure(refusal)
        }
    }
}

/// Who is publishing from a connection.
struct ClientPublisher: Sendable {
    var identity: Identity?
    /// The session id, which keys anonymous publishers' rate budget.
    var session: String
}

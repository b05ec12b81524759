import NIOConcurrencyHelpers
import NIOCore
import SwitchboardBroker
import SwitchboardCore

/// Everything sessions and HTTP handlers share: the engine, the hub, limits, metrics, and the one publish path.
final class HubServices: Sendable {
    let broker: any Broker
    let hub: Hub
    let metrics: ServerMetrics
    let settings: ServerSettings
    let verifier: TokenVerifier
    let originPolicy: OriginPolicy
    /// The names this server answers to in `Host`, checked before any origin rule.
    let hostPolicy: HostPolicy
    /// Wrong API keys per client address (`limits.api_key_failures_per_minute`).
    let apiKeyFailures: NIOLockedValueBox<FailureThrottle>
    let connections: ConnectionLimiter
    let audit: AuditLog
    /// SSE and long-poll sessions, by id, for the HTTP command and poll endpoints.
    let sessions = SessionRegistry()
    private let publishesPerUser: KeyedRateLimiter
    private let publishesPerChannel: KeyedRateLimiter
    let apiRequests: KeyedRateLimiter
    private let drainingFlag = NIOLockedValueBox(false)
    /// Sessions open on handed-off connections. Hummingbird's server stops waiting once their `handle` returned, so
    /// shutdown waits on this count instead (``SessionDrainService``).
    private let openSessions = NIOLockedValueBox(0)

    func sessionOpened() { openSessions.withLockedValue { $0 += 1 } }
    func sessionClosed() { openSessions.withLockedValue { $0 -= 1 } }
    var openSessionCount: Int { openSessions.withLockedValue { $0 } }

    init(broker: any Broker, hub: Hub, metrics: ServerMetrics, settings: ServerSettings, verifier: TokenVerifier, audit: AuditLog) {
        self.verifier = verifier
        self.audit = audit
        let configuration = settings.configuration
        self.originPolicy = OriginPolicy(allowed: configuration.allowedOrigins, allowLocalhost: configuration.mode == .development)
        self.hostPolicy = HostPolicy(publicHosts: configuration.publicHosts, development: configuration.mode == .development)
        self.apiKeyFailures = NIOLockedValueBox(FailureThrottle(maxFailures: configuration.limits.apiKeyFailuresPerMinute))
        self.connections = ConnectionLimiter(limits: configuration.limits)
        self.publishesPerUser = KeyedRateLimiter(rate: configuration.limits.publishesPerSecondPerUser)
        self.publishesPerChannel = KeyedRateLimiter(rate: configuration.limits.publishesPerSecondPerChannel)
        self.apiRequests = KeyedRateLimiter(rate: configuration.limits.apiRequestsPerSecond)
        self.broker = broker
        self.hub = hub
        self.metrics = metrics
        self.settings = settings
    }

    var isDraining: Bool { drainingFlag.withLockedValue { $0 } }
    func startDraining() { drainingFlag.withLockedValue { $0 = true } }

    /// The channel's options, or the refusal when its namespace is not served.
    func options(for channel: ChannelName) -> Result<NamespaceOptions, ProtocolError> {
        guard let options = settings.configuration.options(forNamespace: channel.namespace) else {
            return .failure(ProtocolError(.unknownNamespace, "namespace \"\(channel.namespace ?? "")\" is not configured"))
        }
        return .success(options)
    }

    /// Checks that `identity` (nil: anonymous) may subscribe to `channel`.
    func checkSubscribe(_ channel: ChannelName, identity: Identity?, hasSubscriptionToken: Bool = false) -> ProtocolError? {
        switch options(for: channel) {
        case .failure(let error): return error
        case .success(let options):
            return Permissions.subscribe(channel, options: options, identity: identity, hasSubscriptionToken: hasSubscriptionToken)
        }
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
        let published = accepted.isEmpty ? [] : await broker.publish(batch: accepted.map(\.request))
        for ((index, _), result) in zip(accepted, published) {
            switch result {
            case .success(let result):
                if !result.isDuplicate { metrics.published(source: "api") }
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
        switch options(for: request.channel) {
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
        switch options(for: request.channel) {
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
                guard publishesPerUser.allow(publisher), publishesPerChannel.allow(request.channel.rawValue) else {
                    metrics.error(.rateLimited)
                    audit.record("limit_hit", ["limit": "publishes_per_second", "channel": request.channel.rawValue, "user": client.identity?.user])
                    return .failure(ProtocolError(.rateLimited, "publish rate limit reached; retry later"))
                }
            }
        }
        do {
            let result = try await broker.publish(request)
            if !result.isDuplicate { metrics.published(source: client == nil ? "api" : "client") }
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

public import Foundation
import Hummingbird
import HummingbirdCore
public import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
public import ServiceLifecycle
public import SwitchboardBroker
public import SwitchboardCore
import SwitchboardPostgres
import SwitchboardSQLite

/// The Switchboard hub: Hummingbird for routing, the HTTP API and lifecycle; classic NIO handlers for WebSocket and
/// SSE connections; a ``Broker`` engine behind it.
public struct SwitchboardServer: Sendable {
    public let configuration: HubConfiguration
    public let apiKey: String
    public let metrics: ServerMetrics
    private let broker: (any Broker)?
    private let logger: Logger
    private let group: any EventLoopGroup
    private let tokenClock: @Sendable () -> Int64
    private let tls: TLSCredentials?
    /// The Yjs rooms (`/yjs/{room}`), kept in memory for the life of this server value.
    let yjsRooms = YjsRooms()

    /// - Parameters:
    ///   - configuration: resolved configuration; `apiKey` must be set (the CLI generates one when none is configured).
    ///   - broker: the engine; when nil, the one `engine.type` names is opened by ``makeService(onReady:)``.
    ///   - tokenClock: Unix seconds used for token expiry; injectable so tests need not wait for tokens to expire.
    ///   - tls: credentials to serve TLS with (e.g. a development certificate made in memory); when nil, the
    ///     `server.tls_cert` / `server.tls_key` files are used if configured.
    public init(
        configuration: HubConfiguration, apiKey: String, broker: (any Broker)? = nil, logger: Logger,
        tokenClock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) },
        tls: TLSCredentials? = nil
    ) {
        self.tokenClock = tokenClock
        self.tls = tls
        self.configuration = configuration
        self.apiKey = apiKey
        self.logger = logger
        self.metrics = ServerMetrics(namespaces: Set(configuration.namespaces.keys))
        self.group = MultiThreadedEventLoopGroup.singleton
        self.broker = broker
    }

    /// The engine `engine.type` names, opened: a durable engine checks its data directory and database here, before
    /// anything listens.
    public static func openEngine(_ configuration: HubConfiguration, logger: Logger) throws(ServerSetupError) -> any Broker {
        let policy: @Sendable (ChannelName) -> HistoryPolicy = { channel in
            (configuration.options(forNamespace: channel.namespace) ?? configuration.channelDefaults).historyPolicy
        }
        switch configuration.engineType {
        case .memory:
            return MemoryBroker(policy: policy)
        case .sqlite:
            do {
                return try SQLiteBroker(
                    directory: configuration.sqlitePath, synchronous: configuration.sqliteSynchronous, policy: policy, logger: logger)
            } catch {
                throw ServerSetupError(key: error.key, reason: error.reason)
            }
        case .postgres:
            do {
                let settings = try PostgresSettings(
                    url: configuration.postgresURL, shards: configuration.postgresShards, pollInterval: configuration.postgresPollInterval)
                return PostgresBroker(settings: settings, policy: policy, defaultPolicy: configuration.channelDefaults.historyPolicy, logger: logger)
            } catch {
                throw ServerSetupError(key: error.key, reason: error.reason)
            }
        }
    }

    /// Where the other nodes of a cluster reach this one, given the bound port: `engine.postgres.advertise_url`, or
    /// `http://server.host:PORT` when the server listens on one address.
    static func advertisedURL(_ configuration: HubConfiguration) throws -> @Sendable (Int) -> String {
        let key = "engine.postgres.advertise_url"
        if !configuration.postgresAdvertiseURL.isEmpty {
            guard let url = NodeURL(configuration.postgresAdvertiseURL) else {
                throw ServerSetupError(key: key, reason: "not http://HOST:PORT (other nodes send this node's session requests there)")
            }
            return { _ in url.text }
        }
        let host = configuration.host
        guard !["0.0.0.0", "::", "[::]", ""].contains(host) else {
            throw ServerSetupError(
                key: key, reason: "server.host \(host) listens on every address: set the http://HOST:PORT other nodes reach this one at")
        }
        return { port in NodeURL(host: host, port: port).text }
    }

    /// The service to run: serves until graceful shutdown (SIGTERM/SIGINT through a `ServiceGroup`), then tells
    /// clients to reconnect, drains their queues for at most `shutdown.drain_timeout_ms`, and returns.
    /// - Parameter onReady: called with the bound port once the server accepts connections.
    /// - Throws: ``ServerSetupError`` when a configured key file cannot be used.
    public func makeService(onReady: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> some Service {
        let settings = ServerSettings(configuration)
        let sslContext = try (tls ?? TLSCredentials.configured(by: configuration))?.makeContext()
        let loops = Array(group.makeIterator())
        let verifier = try await TokenVerifier(configuration.auth, now: tokenClock)
        let hub = Hub(
            loops: loops, metrics: metrics, heartbeat: settings.heartbeat, writeDelay: TimeAmount(settings.configuration.writeDelay), tokens: verifier
        )
        // Every engine call from here on has a deadline and fails only with an EngineError.
        let (metrics, logger) = (self.metrics, self.logger)
        let engine = try self.broker ?? Self.openEngine(configuration, logger: logger)
        let observer: DeadlineBroker.CallObserver = { operation, outcome, duration, error in
            metrics.engineCall(operation, outcome: outcome.rawValue, duration: duration)
            if let error {
                logger.error(
                    "engine call failed",
                    metadata: [
                        "operation": .string(operation), "outcome": .string(outcome.rawValue), "retryable": .stringConvertible(error.isRetryable),
                        "duration_ms": .stringConvertible(
                            duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000),
                        "error": .string(error.description),
                    ])
            }
        }
        let broker = DeadlineBroker(engine, timeout: configuration.engineCallTimeout, observer: observer)
        // A shared engine knows the other nodes: requests for their sessions are forwarded (no sticky sessions).
        let directory = engine as? any NodeDirectory
        let advertised = try directory.map { _ in try Self.advertisedURL(configuration) }
        // Yjs rooms are stored by engines that can (SQLite); with the memory engine they live as long as the process.
        if let store = engine as? any YjsRoomStore {
            yjsRooms.attach(store: store, callTimeout: configuration.engineCallTimeout, observer: observer, logger: logger)
        }
        // The engine delivers to the hub before the server accepts anything: a publication accepted in the first
        // moments must never skip the fan-out because a service had not started yet.
        broker.attach(sink: hub)
        let audit = try AuditLog(destination: configuration.auditLog)
        // Each part gets the services it uses; the shared ones (channel rules, publish path, drain state) are made once.
        let forwarder = SessionForwarder(directory: directory, timeout: configuration.engineCallTimeout, metrics: metrics, logger: logger)
        let sessionServices = SessionServices(
            engine: broker, settings: settings, tokens: verifier, metrics: metrics, audit: audit, logger: logger,
            addressPrefix: forwarder.addressPrefix)
        let streams = StreamServices(session: sessionServices, hub: hub, yjsRooms: yjsRooms, forwarder: forwarder)
        let originPolicy = OriginPolicy(allowed: configuration.allowedOrigins, allowLocalhost: configuration.mode == .development)
        let hostPolicy = HostPolicy(publicHosts: configuration.publicHosts, development: configuration.mode == .development)
        let routes = StreamRoutes(
            settings: settings, channels: sessionServices.channels, originPolicy: originPolicy, hostPolicy: hostPolicy, drain: sessionServices.drain)
        let router = Router(context: SwitchboardRequestContext.self)
        router.add(middleware: RequestPathGuard())
        HTTPAPI(
            engine: broker, channels: sessionServices.channels, publishing: sessionServices.publishing, drain: sessionServices.drain,
            originPolicy: originPolicy, metrics: metrics, audit: audit, maxBodyBytes: settings.limits.maxMessageBytes, apiKey: apiKey, control: hub,
            tokens: verifier,
            apiRequests: KeyedRateLimiter(rate: configuration.limits.apiRequestsPerSecond),
            apiKeyFailures: NIOLockedValueBox(FailureThrottle(maxFailures: configuration.limits.apiKeyFailuresPerMinute))
        ).register(on: router)
        SessionEndpoints(services: streams).register(on: router)
        var demoServices: [any Service] = []
        if configuration.demo {
            guard configuration.mode == .development else {
                throw ServerSetupError(key: "demo.enabled", reason: "demo mode mints tokens for anyone: development mode only")
            }
            guard let secret = configuration.auth.hmacSecret else {
                throw ServerSetupError(key: "auth.hmac_secret", reason: "demo mode signs its tokens with the HMAC secret: set one")
            }
            let minter = TokenMinter(hmacSecret: secret)
            DemoEndpoints(maxBodyBytes: settings.limits.maxMessageBytes, metrics: metrics, minter: minter).register(on: router)
            demoServices.append(DemoTicker(publishing: sessionServices.publishing))
        }
        if let webRoot = configuration.webRoot {
            let files = WebRootFiles(root: webRoot, followsLinksOutside: configuration.webRootFollowsSymlinks, logger: logger)
            router.add(middleware: FileMiddleware(fileProvider: files, searchForIndexHtml: true))
        }
        let application = Application(
            router: router,
            server: HTTPServerBuilder { responder in
                guard let sslContext else { return SwitchboardChildChannel(responder: responder, routes: routes, services: streams) }
                return SecureChildChannel(responder: responder, routes: routes, services: streams, sslContext: sslContext)
            },
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: "switchboard"),
            // Yjs rooms' queued writes finish before the engine stops (services stop in reverse order).
            services: [BrokerService(broker: broker), YjsRoomService(rooms: yjsRooms, idle: configuration.yjsRoomIdle)] + demoServices,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                if let directory, let advertised { directory.advertise(url: advertised(port)) }
                await onReady(port)
            },
            eventLoopGroupProvider: .shared(group),
            logger: logger
        )
        // Services shut down in reverse order: the drain flag flips before the server starts closing connections.
        return ServiceGroup(
            configuration: .init(
                services: [
                    SessionDrainService(drain: sessionServices.drain, timeout: configuration.drainTimeout), application,
                    DrainFlagService(drain: sessionServices.drain, registry: sessionServices.registry),
                ], logger: logger
            )
        )
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully.
    public func run(onReady: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let group = ServiceGroup(
            configuration: .init(services: [try await makeService(onReady: onReady)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
    }
}

/// Runs the engine's background work; listed before the server in the application's services, so it stops after the
/// server has drained (the engine writes what it accepted, then returns).
private struct BrokerService: Service {
    let broker: any Broker

    func run() async throws {
        try await broker.run()
    }
}

/// Until graceful shutdown, drops Yjs rooms idle for `idle` from memory (checking every half of it, at most every
/// 10 s); then writes the rooms' queued changes and lets go of the engine.
private struct YjsRoomService: Service {
    let rooms: YjsRooms
    /// `yjs.room_idle_ms`; nil keeps rooms in memory.
    let idle: Duration?

    func run() async throws {
        if let idle {
            let sweep = min(max(idle / 2, .milliseconds(10)), .seconds(10))
            try? await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: sweep)
                    rooms.evictIdle(since: .now() - TimeAmount(idle))
                }
            }
        } else {
            try? await gracefulShutdown()
        }
        await rooms.detachStore()
    }
}

/// Shut down last: waits until every handed-off connection has finished its drain (they were told to reconnect when
/// the server quiesced), bounded by the drain timeout, so the process never exits under a connection still sending its
/// goodbye.
private struct SessionDrainService: Service {
    let drain: DrainState
    /// `shutdown.drain_timeout_ms`; the wait ends a second after it.
    let timeout: Duration

    func run() async throws {
        try? await gracefulShutdown()
        let deadline = ContinuousClock.now + timeout + .seconds(1)
        while drain.openSessionCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// Marks the hub as draining as soon as shutdown begins, so `/readyz` turns 503 and new stream requests are refused
/// while existing ones are told to reconnect.
private struct DrainFlagService: Service {
    let drain: DrainState
    let registry: SessionRegistry

    func run() async throws {
        try? await gracefulShutdown()
        drain.startDraining()
        // Long-poll sessions have no connection to quiesce: tell each to reconnect elsewhere.
        registry.forEach { session in if session.kind == .poll { session.disconnect(.shutdown) } }
    }
}

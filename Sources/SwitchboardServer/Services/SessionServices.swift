import Logging
import SwitchboardBroker
import SwitchboardCore

/// What a ``Session`` uses, and nothing else: each member names the parts of the session that read it.
///
/// One shared instance per server: a session holds a single reference, so its size does not grow with this list.
final class SessionServices: Sendable {
    /// The engine (a ``DeadlineBroker``): recovery (`+Subscribe`), presence, receipts and signals.
    let engine: any Broker
    /// Namespace options and subscribe permissions: `+Subscribe`, `+Presence`, `+Receipts`, `+Signals`.
    let channels: ChannelRules
    /// The one publish path, shared with the HTTP API: `+Publish`.
    let publishing: PublishPath
    /// Connection and subscription tokens: `+Connect` (`connect`, `refresh`, expiry) and `+Subscribe`.
    let tokens: TokenVerifier
    /// Per-user connection counts: admitted by `+Connect`, released when the session closes.
    let connections: ConnectionLimiter
    /// Sessions addressed over HTTP (SSE, long-poll): registered while open.
    let registry: SessionRegistry
    /// Shutdown waits for open sessions.
    let drain: DrainState
    let metrics: ServerMetrics
    let audit: AuditLog
    /// Operational log lines: connections opened and closed, slow consumers (`Session`).
    let logger: Logger
    /// Limits, heartbeat and token-refresh settings.
    let settings: ServerSettings

    init(
        engine: any Broker, channels: ChannelRules, publishing: PublishPath, tokens: TokenVerifier, connections: ConnectionLimiter,
        registry: SessionRegistry, drain: DrainState, metrics: ServerMetrics, audit: AuditLog, logger: Logger, settings: ServerSettings
    ) {
        self.engine = engine
        self.channels = channels
        self.publishing = publishing
        self.tokens = tokens
        self.connections = connections
        self.registry = registry
        self.drain = drain
        self.metrics = metrics
        self.audit = audit
        self.logger = logger
        self.settings = settings
    }
}

/// What the stream transports (WebSocket, SSE, long-poll and the connection router that hands off to them) use: the
/// services of the sessions they open, and the hub that places each session on its event loop.
final class StreamServices: Sendable {
    let session: SessionServices
    let hub: Hub
    /// The Yjs rooms served at `/yjs/{room}`, in memory.
    let yjsRooms: YjsRooms

    /// Sends requests for other nodes' sessions on to them (no sticky sessions).
    let forwarder: SessionForwarder

    init(session: SessionServices, hub: Hub, yjsRooms: YjsRooms = YjsRooms(), forwarder: SessionForwarder? = nil) {
        self.session = session
        self.hub = hub
        self.forwarder = forwarder ?? SessionForwarder(directory: nil, timeout: .seconds(10), metrics: session.metrics, logger: session.logger)
        self.yjsRooms = yjsRooms
    }

    var settings: ServerSettings { session.settings }
    var metrics: ServerMetrics { session.metrics }
}

extension SessionServices {
    /// A server's session services: the channel rules, the publish path, the connection limits, the registry and the
    /// drain state are made here once and shared by everything handed this instance (or its parts).
    convenience init(
        engine: any Broker, settings: ServerSettings, tokens: TokenVerifier, metrics: ServerMetrics, audit: AuditLog,
        logger: Logger = Logger(label: "switchboard", factory: { _ in SwiftLogNoOpLogHandler() }), addressPrefix: String = ""
    ) {
        let channels = ChannelRules(configuration: settings.configuration)
        self.init(
            engine: engine, channels: channels, publishing: PublishPath(engine: engine, channels: channels, metrics: metrics, audit: audit),
            tokens: tokens, connections: ConnectionLimiter(limits: settings.limits), registry: SessionRegistry(addressPrefix: addressPrefix),
            drain: DrainState(),
            metrics: metrics, audit: audit, logger: logger, settings: settings)
    }
}

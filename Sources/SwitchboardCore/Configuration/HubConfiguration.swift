/// The resolved settings of one hub, after defaults, the config file, the environment and CLI flags were layered.
///
/// Why a plain value: the server reads it once at start, and tests build one with `init()` and change fields.
/// See docs/configuration.md for every option and `ConfigurationResolver` for how layers combine.
public struct HubConfiguration: Sendable, Equatable {
    /// Development is open and forgiving; production is closed by default (see `NamespaceOptions.defaults(for:)`).
    public enum Mode: String, Sendable, CaseIterable {
        case development
        case production
    }

    /// Bounds on what one client may cost the server.
    public struct Limits: Sendable, Equatable {
        /// Largest WebSocket message or HTTP body accepted; bigger ones get close 1009 / HTTP 413.
        public var maxMessageBytes = 65_536
        /// Channels one connection may subscribe to at once.
        public var maxSubscriptionsPerConnection = 128
        /// Channels one SSE URL may name.
        public var maxSSEChannels = 16
        /// Time a new connection has to send its complete first request or upgrade.
        public var handshakeTimeout: Duration = .milliseconds(10_000)
        /// Time a fragmented WebSocket message has from its first frame to its last.
        public var messageTimeout: Duration = .milliseconds(10_000)
        /// Bytes queued for one session before its subscriber counts as a slow consumer.
        public var outboundQueueBytes = 1_048_576
        /// Messages queued for one session before its subscriber counts as a slow consumer.
        public var outboundQueueMessages = 4_096
        /// Socket write-buffer size above which the channel turns unwritable (NIO high watermark).
        public var writeBufferHighWaterBytes = 65_536
        /// Open connections on this node; 0 means no limit.
        public var maxConnections = 0
        /// Open connections from one IP address; 0 means no limit (load tests from 127.0.0.1 need it lifted).
        public var maxConnectionsPerIP = 0
        /// Open connections of one authenticated user; 0 means no limit.
        public var maxConnectionsPerUser = 0
        /// Commands one connection may send per second (burst: twice as many); 0 means no limit.
        public var commandsPerSecond = 100
        /// Client publishes per second per user (anonymous clients share one budget per connection); 0: no limit.
        public var publishesPerSecondPerUser = 100
        /// Client publishes per second into one channel, all clients together; 0: no limit.
        public var publishesPerSecondPerChannel = 1000
        /// HTTP API requests per second per API key; 0 means no limit.
        public var apiRequestsPerSecond = 0
        /// Bytes of header names and values one request head may carry (each header alone too); over it HTTP 431.
        public var maxHeaderBytes = 32_768
        /// Header lines one request head may carry; over it HTTP 431.
        public var maxHeaderCount = 100
        /// Time an HTTP request's body has, from its head to its last byte; over it HTTP 408 and the connection closes.
        public var bodyTimeout: Duration = .milliseconds(30_000)
        /// Wrong API keys one client address may send per minute before its API requests are answered 429 until the
        /// minute is over; 0 means no limit.
        public var apiKeyFailuresPerMinute = 10
        /// Time a connection the server cuts off (slow consumer, flood, dead heartbeat) has to read what was already
        /// written and its close frame before the socket is closed.
        public var closeTimeout: Duration = .milliseconds(5_000)
        /// The NIO low watermark: always half the high one, so writability does not flap.
        public var writeBufferLowWaterBytes: Int { writeBufferHighWaterBytes / 2 }

        /// The built-in limits.
        public init() {}
    }

    /// Liveness checks on idle connections.
    public struct Heartbeat: Sendable, Equatable {
        /// Time between server pings (WebSocket ping frame plus app-level ping push; SSE comment line).
        public var interval: Duration = .milliseconds(25_000)
        /// A connection with no pong or other inbound traffic this long after a ping is closed as dead.
        public var timeout: Duration = .milliseconds(10_000)

        /// The built-in heartbeat.
        public init() {}
    }

    /// How connection tokens are verified (docs/security.md).
    public struct Auth: Sendable, Equatable {
        /// Secret for HS256/384/512 tokens; nil accepts no HMAC tokens.
        public var hmacSecret: String?
        /// PEM public key for RS256/ES256/EdDSA tokens.
        public var publicKeyFile: String?
        /// JWKS file whose keys are picked by `kid`, for rotation.
        public var jwksFile: String?
        public var audience: String?
        public var issuer: String?
        public var requireExpiry = true
        /// Time an expired connection has to refresh its token in band before it is disconnected.
        public var refreshGrace: Duration = .milliseconds(15_000)

        public init() {}

        /// Whether any verification key is configured; without one every token is refused.
        public var hasKeys: Bool { hmacSecret != nil || publicKeyFile != nil || jwksFile != nil }
    }

    /// WebSocket options beyond the limits.
    public struct WebSocket: Sendable, Equatable {
        /// Whether permessage-deflate (RFC 7692) is offered to clients that ask for it.
        public var compression = true
        /// Messages smaller than this go out uncompressed: deflating a few bytes costs more than it saves.
        public var compressionMinBytes = 256

        /// The built-in WebSocket options.
        public init() {}
    }

    /// Switches for conformance and integration testing; all off in a real deployment.
    public struct Testing: Sendable, Equatable {
        /// Serves `GET /testing/echo`: a WebSocket endpoint on the production pipeline that echoes every message,
        /// for the Autobahn conformance suite (docs/conformance.md).
        public var echoEndpoint = false
        /// Compress a broadcast for every permessage-deflate connection anew (measurement only; the default
        /// compresses it once per event loop and shares the result).
        public var deflatePerConnection = false

        /// Everything off.
        public init() {}
    }

    public var mode: Mode
    public var auth = Auth()
    /// Browser origins allowed besides same-origin (and localhost in development), e.g. `https://app.example.com`
    /// or `https://*.example.com`.
    public var allowedOrigins: [String] = []
    /// `server.public_hosts`: the names this server answers to in `Host` (exact or `*.example.com`) besides localhost
    /// names and IP literals; in production an empty list accepts any well-formed name (see `HostPolicy`).
    public var publicHosts: [String] = []
    /// Where audit events go as JSON lines: "" (off), "stderr", "stdout" or a file path.
    public var auditLog = ""
    /// `protocol.notice*`: the notice pushed after `connect` to the clients the operator will stop serving.
    public var deprecationNotice = DeprecationNotice()
    /// `log.format`: how the server's log lines (standard error) are written.
    public var logFormat: LogFormat = .text
    /// `log.level`: the least severe log level written.
    public var logLevel: LogLevel = .info

    public enum LogFormat: String, Sendable, CaseIterable {
        /// One human-readable line per event (swift-log's stream handler).
        case text
        /// One JSON object per line, with the event's fields as keys.
        case json
    }

    /// swift-log's levels, by name (Core does not depend on swift-log).
    public enum LogLevel: String, Sendable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }
    /// Address to listen on.
    public var host = "127.0.0.1"
    /// Port to listen on; 0 picks a free one (tests use it).
    public var port = 8_080
    /// `yjs.room_idle_ms`: how long a Yjs room without connections stays in memory; nil keeps rooms until the end.
    public var yjsRoomIdle: Duration? = .seconds(60)
    /// `engine.call_timeout_ms`: how long one engine call may take before it fails as timed out (retryable).
    public var engineCallTimeout: Duration = .seconds(5)
    /// `engine.type`: where history lives.
    public var engineType: EngineType = .sqlite
    /// `engine.sqlite.path`: the SQLite engine's data directory (created on first start).
    public var sqlitePath = "./switchboard-data"
    /// `engine.sqlite.synchronous`: how hard the SQLite engine syncs its commits to disk.
    public var sqliteSynchronous: SQLiteSynchronous = .normal
    /// `engine.postgres.url`: the PostgreSQL engine's database (required with `engine.type: postgres`).
    public var postgresURL = ""
    /// `engine.postgres.shards`: shards of channels, each with its own publish lock.
    public var postgresShards = 32
    /// `engine.postgres.poll_interval_ms`: how often readers look for rows when no NOTIFY woke them.
    public var postgresPollInterval: Duration = .milliseconds(100)
    /// `engine.postgres.advertise_url`: where the other nodes forward requests for this node's sessions; empty:
    /// `http://server.host:PORT`.
    public var postgresAdvertiseURL = ""

    public enum EngineType: String, Sendable, CaseIterable {
        /// Durable history in an embedded SQLite database (the default).
        case sqlite
        /// History in this process only: lost on restart (tests, benchmarks, throwaway runs).
        case memory
        /// Channels, offsets and history shared by every node on one PostgreSQL database.
        case postgres
    }

    public enum SQLiteSynchronous: String, Sendable, CaseIterable {
        /// Commits survive a crash of the process; the last ones may roll back on power loss or an OS crash (the
        /// engine then rotates epochs, so no client is told "recovered" over a lost tail).
        case normal
        /// Every commit is synced to disk before it is answered: survives power loss, costs an fsync per group commit.
        case full
    }
    /// Directory of static files to serve; nil serves none.
    public var webRoot: String?
    /// `server.web_root_follow_symlinks`: serve link targets outside the web root (off: such links answer 404).
    public var webRootFollowsSymlinks = false
    /// PEM certificate chain for TLS; with ``tlsKeyFile`` the server speaks only TLS (HTTP/1.1 and HTTP/2 via ALPN).
    public var tlsCertificateFile: String?
    /// PEM private key of ``tlsCertificateFile``.
    public var tlsKeyFile: String?
    /// Key for the publish/admin API; nil means the server generates a random one at start and prints it.
    public var apiKey: String?
    public var limits = Limits()
    public var heartbeat = Heartbeat()
    public var webSocket = WebSocket()
    public var testing = Testing()
    /// Demo mode (development only): `POST /demo/token` mints tokens for any user name, and a simulated ticker
    /// publishes prices to `ticker:prices`. For the demo apps served by `make run`; never in production.
    public var demo = false
    /// How long an event loop holds its flush after the first write of a burst (zero: flush at the end of each tick).
    public var writeDelay: Duration = .zero
    /// Time graceful shutdown waits for connections to finish before closing them.
    public var drainTimeout: Duration = .milliseconds(5_000)
    /// Reconnect delay sent to EventSource clients in the SSE `retry:` field.
    public var sseRetry: Duration = .milliseconds(2_000)
    /// Long-polling: how long a poll waits for messages, and how long a session lives without one.
    public var poll = Poll()

    public struct Poll: Sendable, Equatable {
        public var timeout: Duration = .milliseconds(25_000)
        public var sessionIdle: Duration = .milliseconds(30_000)
        public init() {}
    }
    /// Options of channels without a namespace, and the base every namespace inherits from.
    public var channelDefaults: NamespaceOptions
    /// Configured namespaces by name, each already merged over `channelDefaults`.
    public var namespaces: [String: NamespaceOptions] = [:]

    /// Development defaults, as `switchboard serve` runs with no file.
    public init() {
        self.init(mode: .development)
    }

    /// Built-in defaults for `mode`, including its channel defaults.
    public init(mode: Mode) {
        self.mode = mode
        self.channelDefaults = .defaults(for: mode)
    }

    /// Options for a channel's namespace (nil: the channel has none).
    ///
    /// Returns the namespace's options if configured, else `channelDefaults` in development; nil for an unconfigured
    /// namespace in production, because production refuses namespaces nobody declared.
    public func options(forNamespace name: Substring?) -> NamespaceOptions? {
        guard let name else { return channelDefaults }
        if let configured = namespaces[String(name)] { return configured }
        return mode == .development ? channelDefaults : nil
    }

    /// Every option, as docs/configuration.md lists them.
    public static let allKeys: [ConfigurationKey] = ConfigurationKey.schema
}

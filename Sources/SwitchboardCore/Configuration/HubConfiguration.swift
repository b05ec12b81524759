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
        /// Bytes queued for one session before its subscriber counts as a slow consumer.
        public var outboundQueueBytes = 1_048_576
        /// Messages queued for one session before its subscriber counts as a slow consumer.
        public var outboundQueueMessages = 4_096
        /// Socket write-buffer size above which the channel turns unwritable (NIO high watermark).
        public var writeBufferHighWaterBytes = 65_536
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

        /// Everything off.
        public init() {}
    }

    public var mode: Mode
    /// Address to listen on.
    public var host = "127.0.0.1"
    /// Port to listen on; 0 picks a free one (tests use it).
    public var port = 8_080
    /// Directory of static files to serve; nil serves none.
    public var webRoot: String?
    /// Key for the publish/admin API; nil means the server generates a random one at start and prints it.
    public var apiKey: String?
    public var limits = Limits()
    public var heartbeat = Heartbeat()
    public var webSocket = WebSocket()
    public var testing = Testing()
    /// Time graceful shutdown waits for connections to finish before closing them.
    public var drainTimeout: Duration = .milliseconds(5_000)
    /// Reconnect delay sent to EventSource clients in the SSE `retry:` field.
    public var sseRetry: Duration = .milliseconds(2_000)
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

    /// Every option, for `switchboard serve --help-config` and docs/configuration.md.
    public static let allKeys: [ConfigurationKey] = ConfigurationKey.schema
}

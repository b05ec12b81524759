/// One documented option: its dotted key, how to set it from the environment or the command line, and its default.
///
/// Why: docs/configuration.md lists exactly these, so the schema is the single source of truth for what a layer may
/// contain.
public struct ConfigurationKey: Sendable, Equatable {
    /// Dotted key as written in the config file or `--set`; `namespaces.<name>.<option>` stands for every namespace.
    public let key: String
    /// Environment variable that sets it; nil for per-namespace options, which the environment cannot express.
    public let envName: String?
    /// Dedicated CLI flag, if any; every key can also be set with `--set key=value`.
    public let cliFlag: String?
    /// The default, for people ("true in development, false in production").
    public let defaultDescription: String
    /// What the option does, one sentence.
    public let summary: String
    /// The default as a layer would write it; nil when it is not a single value. Lets tests prove the docs match the code.
    let defaultLiteral: String?
}

/// Why a value was refused; the resolver adds the source and key.
struct InvalidConfigurationValue: Error {
    let reason: String
}

/// A top-level option and how it is parsed into a `HubConfiguration`.
struct HubSetting: Sendable {
    typealias Assign = @Sendable (String, inout HubConfiguration) throws(InvalidConfigurationValue) -> Void

    let key: String
    let envName: String
    let cliFlag: String?
    let defaultLiteral: String
    let summary: String
    let assign: Assign

    init(_ key: String, env: String, flag: String? = nil, default literal: String, summary: String, assign: @escaping Assign) {
        self.key = key
        self.envName = env
        self.cliFlag = flag
        self.defaultLiteral = literal
        self.summary = summary
        self.assign = assign
    }
}

/// A channel option, valid under `channel_defaults.` and `namespaces.<name>.`, and how it is parsed.
struct NamespaceSetting: Sendable {
    typealias Assign = @Sendable (String, inout NamespaceOverrides) throws(InvalidConfigurationValue) -> Void

    let option: String
    let defaultLiteral: String?
    let defaultDescription: String
    let summary: String
    let assign: Assign

    init(_ option: String, default literal: String?, described: String? = nil, summary: String, assign: @escaping Assign) {
        self.option = option
        self.defaultLiteral = literal
        self.defaultDescription = described ?? literal ?? ""
        self.summary = summary
        self.assign = assign
    }

    /// Environment variable for the `channel_defaults.` form of this option.
    var channelDefaultsEnvName: String { "SWITCHBOARD_CHANNEL_DEFAULTS_" + option.uppercased() }
}

extension HubSetting {
    /// Every top-level option, in documentation order.
    static let all: [HubSetting] = [
        HubSetting(
            "mode", env: "SWITCHBOARD_MODE", flag: "--production", default: "development",
            summary: "`development` or `production`; production closes client publishing, anonymous access and undeclared namespaces."
        ) { value, target throws(InvalidConfigurationValue) in
            target.mode = try ConfigurationParse.mode(value)
        },
        HubSetting(
            "server.host", env: "SWITCHBOARD_HOST", flag: "--host", default: "127.0.0.1",
            summary: "Address to listen on."
        ) { value, target throws(InvalidConfigurationValue) in
            target.host = try ConfigurationParse.host(value)
        },
        HubSetting(
            "server.port", env: "SWITCHBOARD_PORT", flag: "--port", default: "8080",
            summary: "Port to listen on, 0…65535; 0 picks a free port."
        ) { value, target throws(InvalidConfigurationValue) in
            target.port = try ConfigurationParse.port(value)
        },
        HubSetting(
            "server.web_root", env: "SWITCHBOARD_WEB_ROOT", flag: "--web-root", default: "",
            summary: "Directory of static files to serve; empty serves none."
        ) { value, target throws(InvalidConfigurationValue) in
            target.webRoot = value.isEmpty ? nil : value
        },
        HubSetting(
            "engine.call_timeout_ms", env: "SWITCHBOARD_ENGINE_CALL_TIMEOUT_MS", default: "5000",
            summary:
                "Milliseconds one call into an engine that can block (publish, history read, presence, receipts, signal) may take (the in-memory engine never waits on I/O and is called inline); past it the command is answered 137 engine_timeout (HTTP 504), which is retryable, and the session's next command runs."
        ) { value, target throws(InvalidConfigurationValue) in
            target.engineCallTimeout = try ConfigurationParse.milliseconds(value, atLeast: 1)
        },
        HubSetting(
            "engine.type", env: "SWITCHBOARD_ENGINE_TYPE", flag: "--engine", default: "sqlite",
            summary:
                "`sqlite` keeps history on disk in `engine.sqlite.path` (survives restarts and `kill -9`); `postgres` shares channels, offsets and history with every node on the database `engine.postgres.url` names; `memory` keeps it in this process only (tests, benchmarks, throwaway runs)."
        ) { value, target throws(InvalidConfigurationValue) in
            target.engineType = try ConfigurationParse.choice(value, of: HubConfiguration.EngineType.self)
        },
        HubSetting(
            "engine.sqlite.path", env: "SWITCHBOARD_ENGINE_SQLITE_PATH", default: "./switchboard-data",
            summary: "Data directory of the SQLite engine, created on first start; one server at a time may use it."
        ) { value, target throws(InvalidConfigurationValue) in
            let path = ConfigurationParse.trimmed(value)
            guard !path.isEmpty else { throw InvalidConfigurationValue(reason: "expected a directory path") }
            target.sqlitePath = path
        },
        HubSetting(
            "engine.sqlite.synchronous", env: "SWITCHBOARD_ENGINE_SQLITE_SYNCHRONOUS", default: "normal",
            summary:
                "`normal`: a commit survives a crash of the process, the last ones may roll back on power loss or an OS crash (detected at the next start: epochs rotate, clients reset); `full`: every group commit is synced to disk before it is answered."
        ) { value, target throws(InvalidConfigurationValue) in
            target.sqliteSynchronous = try ConfigurationParse.choice(value, of: HubConfiguration.SQLiteSynchronous.self)
        },
        HubSetting(
            "engine.postgres.url", env: "SWITCHBOARD_ENGINE_POSTGRES_URL", default: "",
            summary:
                "The PostgreSQL engine's database: `postgres://user:password@host:5432/database` (`?sslmode=` `disable` (default), `prefer` or `require`); required with `engine.type: postgres`."
        ) { value, target throws(InvalidConfigurationValue) in
            target.postgresURL = ConfigurationParse.trimmed(value)
        },
        HubSetting(
            "engine.postgres.shards", env: "SWITCHBOARD_ENGINE_POSTGRES_SHARDS", default: "32",
            summary:
                "Shards of channels, 1…1024, each with its own publish lock: publishers to channels of one shard commit one at a time. Fixed by the first node that creates the schema; every node must use the same number."
        ) { value, target throws(InvalidConfigurationValue) in
            target.postgresShards = try ConfigurationParse.count(value, in: 1...1024)
        },
        HubSetting(
            "engine.postgres.poll_interval_ms", env: "SWITCHBOARD_ENGINE_POSTGRES_POLL_INTERVAL_MS", default: "100",
            summary:
                "Milliseconds between a node's reads of new publications when no NOTIFY woke it: the longest a missed wake-up delays delivery."
        ) { value, target throws(InvalidConfigurationValue) in
            target.postgresPollInterval = try ConfigurationParse.milliseconds(value, atLeast: 1)
        },
        HubSetting(
            "engine.postgres.advertise_url", env: "SWITCHBOARD_ENGINE_POSTGRES_ADVERTISE_URL", default: "",
            summary:
                "`http://HOST:PORT` where the other nodes reach this one: a request for an SSE or long-poll session held here that lands on another node is forwarded to it (no sticky sessions). Empty: `http://` + `server.host` + the bound port, which needs `server.host` to be one address (not `0.0.0.0`)."
        ) { value, target throws(InvalidConfigurationValue) in
            target.postgresAdvertiseURL = ConfigurationParse.trimmed(value)
        },
        HubSetting(
            "server.web_root_follow_symlinks", env: "SWITCHBOARD_WEB_ROOT_FOLLOW_SYMLINKS", default: "false",
            summary: "Serve files that symbolic links in the web root point to outside it; off, such links answer 404."
        ) { value, target throws(InvalidConfigurationValue) in
            target.webRootFollowsSymlinks = try ConfigurationParse.bool(value)
        },
        HubSetting(
            "server.write_delay_ms", env: "SWITCHBOARD_SERVER_WRITE_DELAY_MS", default: "0",
            summary:
                "Milliseconds an event loop holds its sockets' flush after the first write, so messages arriving meanwhile share one write per socket (fewer syscalls under load, that much more latency); 0 flushes at the end of every loop tick."
        ) { value, target throws(InvalidConfigurationValue) in
            target.writeDelay = try ConfigurationParse.milliseconds(value, atLeast: 0)
        },
        HubSetting(
            "server.tls_cert", env: "SWITCHBOARD_TLS_CERT", flag: "--tls-cert", default: "",
            summary: "PEM file with the TLS certificate chain (leaf first); set with `server.tls_key` to serve https:// and wss:// only."
        ) { value, target throws(InvalidConfigurationValue) in
            target.tlsCertificateFile = value.isEmpty ? nil : value
        },
        HubSetting(
            "server.tls_key", env: "SWITCHBOARD_TLS_KEY", flag: "--tls-key", default: "",
            summary: "PEM file with the private key of `server.tls_cert`."
        ) { value, target throws(InvalidConfigurationValue) in
            target.tlsKeyFile = value.isEmpty ? nil : value
        },
        HubSetting(
            "api.key", env: "SWITCHBOARD_API_KEY", default: "",
            summary: "Key for the publish/admin API, at least 16 printable characters; empty generates one at start and prints it."
        ) { value, target throws(InvalidConfigurationValue) in
            target.apiKey = try ConfigurationParse.apiKey(value)
        },
        HubSetting(
            "limits.max_message_bytes", env: "SWITCHBOARD_LIMITS_MAX_MESSAGE_BYTES", default: "65536",
            summary: "Largest WebSocket message or HTTP body accepted; larger ones get close 1009 / HTTP 413."
        ) { value, target throws(InvalidConfigurationValue) in
            target.limits.maxMessageBytes = try ConfigurationParse.bytes(value)
        },
        HubSetting(
            "limits.max_subscriptions_per_connection", env: "SWITCHBOARD_LIMITS_MAX_SUBSCRIPTIONS_PER_CONNECTION", default: "128",
            summary: "Channels one connection may subscribe to at once."
        ) { value, target throws(InvalidConfigurationValue) in
            target.limits.maxSubscriptionsPerConnection = try ConfigurationParse.count(value, in: 1...Int.max)
        },
        HubSetting(
            "limits.max_sse_channels", env: "SWITCHBOARD_LIMITS_MAX_SSE_CHANNELS", default: "16",
            summary: "Channels one SSE URL may name."
        ) { value, target throws(InvalidConfigurationValue) in
            target.limits.maxSSEChannels = try ConfigurationParse.count(value, in: 1...Int.max)
        },
        HubSetting(
            "limits.handshake_timeout_ms", env: "SWITCHBOARD_LIMITS_HANDSHAKE_TIMEOUT_MS", default: "10000",
            summary: "Milliseconds a new connection has to send its complete first request or upgrade."
        ) { value, target throws(InvalidConfigurationValue) in
            target.limits.handshakeTimeout = try ConfigurationParse.milliseconds(value, atLeast: 1)
        },
        HubSetting(
            "limits.message_timeout_ms", env: "SWITCHBOARD_LIMITS_MESSAGE_TIMEOUT_MS", default: "10000",
            summary: "Milliseconds a fragmented WebSocket message has from its first frame to its last; over it the connection is closed with 1008."
        ) { value, target throws(InvalidConfigurationValue) in
            target.limits.messageTimeout = try ConfigurationParse.milliseconds(value, atLeast: 1)
        },
        HubSetting(
            "limits.outbound_queue_bytes", env: "SWITCHBOARD_LIMITS_OUTBOUND_QUEUE_BYTES", default: "1048576",
            summary: "Bytes queued per session before its subscriber is treated as a slow consumer."
        ) { value, target throws(InvalidConfigurationValue) in
            target.limits.outboundQueueBytes = try ConfigurationParse.bytes(value)
        },
        HubSetting(
            "limits.outbound_queue_messages", env: "SWITCHBOARD_LIMITS_OUTBOUND_QUEUE_MESSAGES", default: "4096",
            summary: "Messages queued per session before its subscriber is treated as a slow consumer."
        ) { value, target throws(InvalidConfigurationValue) in
            target.limits.outboundQueueMessages = try ConfigurationParse.count(value, in: 1...Int.max)
        },
        HubSetting(
            "limits.write_buffer_high_water_bytes", env: "SWITCHBOARD_LIMITS_WRITE_BUFFER_HIGH_WATER_BYTES", default: "65536",
            summary: "Socket write buffer above which a connection stops being writable (NIO high watermark; low = half), at least 2."
        ) { value, target throws(InvalidConfigurationValue) in
            // NIO requires 1 <= low <= high, and low is high / 2.
            target.limits.writeBufferHighWaterBytes = try ConfigurationParse.bytes(value, atLeast: 2)
        },
        HubSetting(
            "limits.max_connections", env: "SWITCHBOARD_LIMITS_MAX_CONNECTIONS", default: "0",
            summary: "Open connections on this node; 0 means no limit; over it new connections get 503."
        ) { value, target throws(InvalidConfigurationValue) in
            target.limits.maxConnections = try ConfigurationParse.count(value, in: 0...Int.max)
        },
        HubSetting(
            "limits.max_connections_per_ip", env: "SWITCHBOARD_LIMITS_MAX_CONNECTIONS_PER_IP", default: "0",
            summary: "Open connections from one IP address; 0 means no limit; over it new connections get 429."
        ) { value, target throws(InvalidConfigurationValue) in
            target.limits.maxConnectionsPerIP = try ConfigurationParse.count(value, in: 0...Int.max)
        },
        HubSetting(
            "limits.max_connections_per_user", env: "SWITCHBOARD_LIMITS_MAX_CONNECTIONS_PER_USER", default: "0",
            summary: "Open connections of one authenticated user; 0 means no limit; over it the connection is refused (429 or close 4004)."
        ) { value, target throws(InvalidConfigurationValue) in
            target.limits.maxConnectionsPerUser = try ConfigurationParse.count(value, in: 0...Int.max)
        },
        HubSetting(
            "limits.commands_per_second", env: "SWITCHBOARD_LIMITS_COMMANDS_PER_SECOND", default: "100",
            summary:
                "Commands per second per connection (burst twice that); 0 means no limit; over it commands get error 128, persistent abuse close 4004."
        ) { value, target throws(InvalidConfigurationValue) in
            target.limits.commandsPerSecond = try ConfigurationParse.count(value, in: 0...Int.max)
        },
        HubSetting(
            "limits.publishes_per_second_per_user", env: "SWITCHBOARD_LIMITS_PUBLISHES_PER_SECOND_PER_USER", default: "100",
            summary: "Client publishes per second per user; 0 means no limit; over it the publish gets error 128."
        ) { value, target throws(InvalidConfigurationValue) in
            target.limits.publishesPerSecondPerUser = try ConfigurationParse.count(value, in: 0...Int.max)
        },
        HubSetting(
            "limits.publishes_per_second_per_channel", env: "SWITCHBOARD_LIMITS_PUBLISHES_PER_SECOND_PER_CHANNEL", default: "1000",
            summary: "Client publishes per second into one channel; 0 means no limit; over it the publish gets error 128."
        ) { value, target throws(InvalidConfigurationValue) in
            target.limits.publishesPerSecondPerChannel = try ConfigurationParse.count(value, in: 0...Int.max)
        },
        HubSetting(
            "limits.api_requests_per_second", env: "SWITCHBOARD_LIMITS_API_REQUESTS_PER_SECOND", default: "0",
            summary: "HTTP API requests per second per API key; 0 means no limit; over it HTTP 429."
        ) { value, target throws(InvalidConfigurationValue) in
            target.limits.apiRequestsPerSecond = try ConfigurationParse.count(value, in: 0...Int.max)
        },
        HubSetting(
            "limits.max_header_bytes", env: "SWITCHBOARD_LIMITS_MAX_HEADER_BYTES", default: "32768",
            summary: "Bytes of header names and values one HTTP request head may carry (one header alone too); over it HTTP 431."
        ) { value, target throws(InvalidConfigurationValue) in
            target.limits.maxHeaderBytes = try ConfigurationParse.bytes(value, atLeast: 1024)
        },
        HubSetting(
            "limits.max_header_count", env: "SWITCHBOARD_LIMITS_MAX_HEADER_COUNT", default: "100",
            summary: "Header lines one HTTP request head may carry; over it HTTP 431."
        ) { value, target throws(InvalidConfigurationValue) in
            target.limits.maxHeaderCount = try ConfigurationParse.count(value, in: 8...65_534)
        },
        HubSetting(
            "limits.body_timeout_ms", env: "SWITCHBOARD_LIMITS_BODY_TIMEOUT_MS", default: "30000",
            summary: "Milliseconds an HTTP request body has from the end of its head to its last byte; over it HTTP 408 and the connection closes."
        ) { value, target throws(InvalidConfigurationValue) in
            target.limits.bodyTimeout = try ConfigurationParse.milliseconds(value, atLeast: 1)
        },
        HubSetting(
            "limits.api_key_failures_per_minute", env: "SWITCHBOARD_LIMITS_API_KEY_FAILURES_PER_MINUTE", default: "10",
            summary:
                "Wrong API keys one client address may send per minute; past it that address's API requests get HTTP 429 with retry-after until the minute is over; 0 means no limit."
        ) { value, target throws(InvalidConfigurationValue) in
            target.limits.apiKeyFailuresPerMinute = try ConfigurationParse.count(value, in: 0...Int.max)
        },
        HubSetting(
            "limits.close_timeout_ms", env: "SWITCHBOARD_LIMITS_CLOSE_TIMEOUT_MS", default: "5000",
            summary:
                "Milliseconds a connection the server cuts off (4002, 4003, 4004, 4500…) has to read what was already sent and the close frame before its socket is closed."
        ) { value, target throws(InvalidConfigurationValue) in
            target.limits.closeTimeout = try ConfigurationParse.milliseconds(value, atLeast: 1)
        },
        HubSetting(
            "server.public_hosts", env: "SWITCHBOARD_SERVER_PUBLIC_HOSTS", default: "",
            summary:
                "Comma-separated host names this server answers to in Host besides localhost names and IP addresses (app.example.com, *.example.com); others get HTTP 421. In production an empty list accepts any well-formed name."
        ) { value, target throws(InvalidConfigurationValue) in
            target.publicHosts = try ConfigurationParse.hostNames(value)
        },
        HubSetting(
            "security.allowed_origins", env: "SWITCHBOARD_SECURITY_ALLOWED_ORIGINS", default: "",
            summary:
                "Comma-separated browser origins allowed besides same-origin (and localhost in development), e.g. https://app.example.com,https://*.example.com."
        ) { value, target throws(InvalidConfigurationValue) in
            target.allowedOrigins = try ConfigurationParse.origins(value)
        },
        HubSetting(
            "protocol.notice", env: "SWITCHBOARD_PROTOCOL_NOTICE", default: "",
            summary:
                "A deprecation notice pushed right after the connect reply to the sessions protocol.notice_sdks names (at most 500 characters; empty: none). Clients log it (docs/protocol.md §13)."
        ) { value, target throws(InvalidConfigurationValue) in
            let message = ConfigurationParse.trimmed(value)
            guard message.count <= 500 else { throw InvalidConfigurationValue(reason: "at most 500 characters, got \(message.count)") }
            target.deprecationNotice.message = message
        },
        HubSetting(
            "protocol.notice_sunset", env: "SWITCHBOARD_PROTOCOL_NOTICE_SUNSET", default: "",
            summary: "The day (YYYY-MM-DD) after which the clients protocol.notice is about may be refused; sent with the notice."
        ) { value, target throws(InvalidConfigurationValue) in
            let day = ConfigurationParse.trimmed(value)
            guard day.isEmpty || DeprecationNotice.isValidSunset(day) else {
                throw InvalidConfigurationValue(reason: "expected a date YYYY-MM-DD, got \(ConfigurationParse.quoted(value))")
            }
            target.deprecationNotice.sunset = day.isEmpty ? nil : day
        },
        HubSetting(
            "protocol.notice_sdks", env: "SWITCHBOARD_PROTOCOL_NOTICE_SDKS", default: "",
            summary:
                "Comma-separated prefixes of the sdk a connect names (switchboard-js/0.) that get protocol.notice; unnamed matches clients that name none; empty: every session."
        ) { value, target throws(InvalidConfigurationValue) in
            var prefixes: [String] = []
            for part in value.split(separator: ",") {
                let prefix = ConfigurationParse.trimmed(String(part))
                guard DeprecationNotice.isValidSDK(prefix) else {
                    throw InvalidConfigurationValue(
                        reason: "each prefix is 1-64 printable ASCII characters without spaces, got \(ConfigurationParse.quoted(prefix))")
                }
                prefixes.append(prefix)
            }
            target.deprecationNotice.sdkPrefixes = prefixes
        },
        HubSetting(
            "audit.log", env: "SWITCHBOARD_AUDIT_LOG", default: "",
            summary:
                "Audit events (connections, auth failures, denials, limit hits, API calls) as JSON lines: empty (off), stderr, stdout or a file path."
        ) { value, target throws(InvalidConfigurationValue) in
            target.auditLog = ConfigurationParse.trimmed(value)
        },
        HubSetting(
            "log.format", env: "SWITCHBOARD_LOG_FORMAT", default: "text",
            summary:
                "Server log lines on standard error: `text` (one readable line each) or `json` (one JSON object per line: ts, level, message, and the event's fields)."
        ) { value, target throws(InvalidConfigurationValue) in
            target.logFormat = try ConfigurationParse.choice(value, of: HubConfiguration.LogFormat.self)
        },
        HubSetting(
            "log.level", env: "SWITCHBOARD_LOG_LEVEL", flag: "--log-level", default: "info",
            summary:
                "Least severe level logged: trace, debug, info (connections open and close), notice (refused requests, slow consumers), warning, error (engine failures) or critical."
        ) { value, target throws(InvalidConfigurationValue) in
            target.logLevel = try ConfigurationParse.choice(value, of: HubConfiguration.LogLevel.self)
        },
        HubSetting(
            "websocket.compression", env: "SWITCHBOARD_WEBSOCKET_COMPRESSION", default: "true",
            summary: "Whether WebSocket clients that offer permessage-deflate get compressed messages (RFC 7692)."
        ) { value, target throws(InvalidConfigurationValue) in
            target.webSocket.compression = try ConfigurationParse.bool(value)
        },
        HubSetting(
            "websocket.compression_min_bytes", env: "SWITCHBOARD_WEBSOCKET_COMPRESSION_MIN_BYTES", default: "256",
            summary: "Outgoing WebSocket messages smaller than this many bytes are sent uncompressed; 0 compresses all."
        ) { value, target throws(InvalidConfigurationValue) in
            target.webSocket.compressionMinBytes = try ConfigurationParse.bytes(value, atLeast: 0)
        },
        HubSetting(
            "heartbeat.interval_ms", env: "SWITCHBOARD_HEARTBEAT_INTERVAL_MS", default: "25000",
            summary: "Milliseconds between server pings (WebSocket ping frame and app-level ping; SSE comment line)."
        ) { value, target throws(InvalidConfigurationValue) in
            target.heartbeat.interval = try ConfigurationParse.milliseconds(value, atLeast: 1)
        },
        HubSetting(
            "heartbeat.timeout_ms", env: "SWITCHBOARD_HEARTBEAT_TIMEOUT_MS", default: "10000",
            summary: "Milliseconds after a ping with no pong or other inbound traffic before the connection is closed as dead."
        ) { value, target throws(InvalidConfigurationValue) in
            target.heartbeat.timeout = try ConfigurationParse.milliseconds(value, atLeast: 1)
        },
        HubSetting(
            "shutdown.drain_timeout_ms", env: "SWITCHBOARD_SHUTDOWN_DRAIN_TIMEOUT_MS", default: "5000",
            summary: "Milliseconds graceful shutdown waits for connections to finish before closing them; 0 closes at once."
        ) { value, target throws(InvalidConfigurationValue) in
            target.drainTimeout = try ConfigurationParse.milliseconds(value, atLeast: 0)
        },
        HubSetting(
            "sse.retry_ms", env: "SWITCHBOARD_SSE_RETRY_MS", default: "2000",
            summary: "Reconnect delay in milliseconds sent to EventSource clients as the SSE `retry:` field."
        ) { value, target throws(InvalidConfigurationValue) in
            target.sseRetry = try ConfigurationParse.milliseconds(value, atLeast: 0)
        },
        HubSetting(
            "poll.timeout_ms", env: "SWITCHBOARD_POLL_TIMEOUT_MS", default: "25000",
            summary: "Longest time in milliseconds a long-poll request waits for messages (also the most a client may ask for with `timeout=`)."
        ) { value, target throws(InvalidConfigurationValue) in
            target.poll.timeout = try ConfigurationParse.milliseconds(value, atLeast: 1)
        },
        HubSetting(
            "poll.session_idle_ms", env: "SWITCHBOARD_POLL_SESSION_IDLE_MS", default: "30000",
            summary: "Milliseconds a long-poll session lives without a poll request before it is closed."
        ) { value, target throws(InvalidConfigurationValue) in
            target.poll.sessionIdle = try ConfigurationParse.milliseconds(value, atLeast: 1)
        },
        HubSetting(
            "yjs.room_idle_ms", env: "SWITCHBOARD_YJS_ROOM_IDLE_MS", default: "60000",
            summary:
                "Milliseconds a Yjs room stays in memory without a connection once the engine holds its whole log; the next connection reads it back from the engine. 0 keeps rooms until the process ends; with the memory engine they always are."
        ) { value, target throws(InvalidConfigurationValue) in
            let idle = try ConfigurationParse.milliseconds(value, atLeast: 0)
            target.yjsRoomIdle = idle == .zero ? nil : idle
        },
        HubSetting(
            "auth.hmac_secret", env: "SWITCHBOARD_AUTH_HMAC_SECRET", default: "",
            summary:
                "Shared secret verifying HMAC tokens: 32+ bytes for HS256, 48+ also for HS384, 64+ also for HS512; `switchboard token` signs with it."
        ) { value, target throws(InvalidConfigurationValue) in
            guard value.isEmpty || value.utf8.count >= 32 else { throw InvalidConfigurationValue(reason: "an HMAC secret needs at least 32 bytes") }
            target.auth.hmacSecret = value.isEmpty ? nil : value
        },
        HubSetting(
            "auth.public_key_file", env: "SWITCHBOARD_AUTH_PUBLIC_KEY_FILE", default: "",
            summary: "PEM file with a public key verifying RS256, ES256 or EdDSA tokens."
        ) { value, target throws(InvalidConfigurationValue) in
            target.auth.publicKeyFile = value.isEmpty ? nil : value
        },
        HubSetting(
            "auth.jwks_file", env: "SWITCHBOARD_AUTH_JWKS_FILE", default: "",
            summary: "JWKS file of verification keys, picked by the token's `kid` (key rotation)."
        ) { value, target throws(InvalidConfigurationValue) in
            target.auth.jwksFile = value.isEmpty ? nil : value
        },
        HubSetting(
            "auth.audience", env: "SWITCHBOARD_AUTH_AUDIENCE", default: "",
            summary: "When set, tokens must name this audience in `aud`."
        ) { value, target throws(InvalidConfigurationValue) in
            target.auth.audience = value.isEmpty ? nil : value
        },
        HubSetting(
            "auth.issuer", env: "SWITCHBOARD_AUTH_ISSUER", default: "",
            summary: "When set, tokens must carry this `iss`."
        ) { value, target throws(InvalidConfigurationValue) in
            target.auth.issuer = value.isEmpty ? nil : value
        },
        HubSetting(
            "auth.require_expiry", env: "SWITCHBOARD_AUTH_REQUIRE_EXPIRY", default: "true",
            summary: "Whether tokens without `exp` are refused."
        ) { value, target throws(InvalidConfigurationValue) in
            target.auth.requireExpiry = try ConfigurationParse.bool(value)
        },
        HubSetting(
            "auth.refresh_grace_ms", env: "SWITCHBOARD_AUTH_REFRESH_GRACE_MS", default: "15000",
            summary: "Milliseconds a connection whose token expired has to refresh it in band before it is disconnected (4502)."
        ) { value, target throws(InvalidConfigurationValue) in
            target.auth.refreshGrace = try ConfigurationParse.milliseconds(value, atLeast: 0)
        },
        HubSetting(
            "demo.enabled", env: "SWITCHBOARD_DEMO_ENABLED", default: "false",
            summary:
                "Demo mode (development only, `serve --demo`): `POST /demo/token` mints tokens for any name and a simulated ticker publishes to `ticker:prices`."
        ) { value, target throws(InvalidConfigurationValue) in
            target.demo = try ConfigurationParse.bool(value)
        },
        HubSetting(
            "testing.echo_endpoint", env: "SWITCHBOARD_TESTING_ECHO_ENDPOINT", default: "false",
            summary: "Serves `GET /testing/echo`, a WebSocket echo on the production pipeline for conformance tests; never in production."
        ) { value, target throws(InvalidConfigurationValue) in
            target.testing.echoEndpoint = try ConfigurationParse.bool(value)
        },
        HubSetting(
            "testing.deflate_per_connection", env: "SWITCHBOARD_TESTING_DEFLATE_PER_CONNECTION", default: "false",
            summary:
                "Compresses a broadcast again for every permessage-deflate connection instead of once per event loop: the naive way, only to measure what compressing once saves (docs/benchmarks.md)."
        ) { value, target throws(InvalidConfigurationValue) in
            target.testing.deflatePerConnection = try ConfigurationParse.bool(value)
        },
    ]

    /// Lookup by dotted key.
    static let byKey: [String: HubSetting] = Dictionary(uniqueKeysWithValues: all.map { ($0.key, $0) })
}

extension NamespaceSetting {
    /// Every channel option, in documentation order.
    static let all: [NamespaceSetting] = [
        NamespaceSetting(
            "history_size", default: "100",
            summary: "Publications kept per channel for recovery, 0…1000000; 0 keeps none."
        ) { value, target throws(InvalidConfigurationValue) in
            target.historySize = try ConfigurationParse.count(value, in: 0...1_000_000)
        },
        NamespaceSetting(
            "history_ttl_seconds", default: "300",
            summary: "Seconds a kept publication stays available; 0 means no time limit."
        ) { value, target throws(InvalidConfigurationValue) in
            let seconds = try ConfigurationParse.wholeNumber(value, unit: "seconds", in: 0...Int.max)
            target.historyTTL = .some(seconds == 0 ? nil : .seconds(seconds))
        },
        NamespaceSetting(
            "allow_client_publish", default: nil, described: "true in development, false in production",
            summary: "Whether connected clients may publish, rather than only the server API."
        ) { value, target throws(InvalidConfigurationValue) in
            target.allowClientPublish = try ConfigurationParse.bool(value)
        },
        NamespaceSetting(
            "allow_anonymous", default: nil, described: "true in development, false in production",
            summary: "Whether a client without a token may subscribe."
        ) { value, target throws(InvalidConfigurationValue) in
            target.allowAnonymous = try ConfigurationParse.bool(value)
        },
        NamespaceSetting(
            "allow_binary", default: "false",
            summary: "Whether binary frames on the raw WebSocket endpoint are published; otherwise refused."
        ) { value, target throws(InvalidConfigurationValue) in
            target.allowBinary = try ConfigurationParse.bool(value)
        },
        NamespaceSetting(
            "private", default: "false",
            summary: "Whether subscribing needs a token capability or a subscription token for the channel, even when authenticated."
        ) { value, target throws(InvalidConfigurationValue) in
            target.isPrivate = try ConfigurationParse.bool(value)
        },
        NamespaceSetting(
            "idempotency_window_seconds", default: "300",
            summary:
                "Seconds a publish's `idempotencyKey` is remembered per channel (at most 10000 keys); a repeat gets the original result. 0 turns it off."
        ) { value, target throws(InvalidConfigurationValue) in
            let seconds = try ConfigurationParse.wholeNumber(value, unit: "seconds", in: 0...86_400)
            target.idempotencyWindow = .seconds(seconds)
        },
        NamespaceSetting(
            "presence", default: "false",
            summary: "Whether subscribers are tracked in the channel's presence (snapshot on subscribe, `presence` command, `GET /api/presence`)."
        ) { value, target throws(InvalidConfigurationValue) in
            target.presence = try ConfigurationParse.bool(value)
        },
        NamespaceSetting(
            "join_leave", default: "true",
            summary: "Whether presence joins and leaves are pushed to subscribers; turn off for very large channels (counts and snapshots remain)."
        ) { value, target throws(InvalidConfigurationValue) in
            target.joinLeave = try ConfigurationParse.bool(value)
        },
        NamespaceSetting(
            "allow_signals", default: "true",
            summary: "Whether subscribers may send ephemeral signals (typing, cursors) to the channel."
        ) { value, target throws(InvalidConfigurationValue) in
            target.allowSignals = try ConfigurationParse.bool(value)
        },
        NamespaceSetting(
            "signal_interval_ms", default: "1000",
            summary: "Shortest time between two signals of one type from one connection on one channel; more are coalesced into the latest."
        ) { value, target throws(InvalidConfigurationValue) in
            target.signalInterval = try ConfigurationParse.milliseconds(value, atLeast: 0)
        },
        NamespaceSetting(
            "conflation", default: "false",
            summary:
                "Latest value per key: a publication waiting for a slow subscriber is replaced by a newer one with the same `key`; recovery returns the latest per key."
        ) { value, target throws(InvalidConfigurationValue) in
            target.conflation = try ConfigurationParse.bool(value)
        },
        NamespaceSetting(
            "max_rate", default: "0",
            summary: "Default pushes per second per subscription, 0…1000 (0: unlimited); a subscribe's `maxRate` overrides it."
        ) { value, target throws(InvalidConfigurationValue) in
            target.maxRate = try ConfigurationParse.count(value, in: 0...1000)
        },
        NamespaceSetting(
            "receipts", default: "false",
            summary: "Whether publications may ask for delivery and read receipts (subscribers are then tracked as recipients)."
        ) { value, target throws(InvalidConfigurationValue) in
            target.receipts = try ConfigurationParse.bool(value)
        },
        NamespaceSetting(
            "receipts_max_recipients", default: "1000",
            summary: "Recipients named per publication at most, 0…100000; beyond it only delivered/read counts are kept."
        ) { value, target throws(InvalidConfigurationValue) in
            target.receiptsMaxRecipients = try ConfigurationParse.count(value, in: 0...100_000)
        },
        NamespaceSetting(
            "yjs", default: "false",
            summary: "Whether the namespace's channels are Yjs rooms, served at `/yjs/{room}` to y-websocket clients (docs/yjs.md)."
        ) { value, target throws(InvalidConfigurationValue) in
            target.yjs = try ConfigurationParse.bool(value)
        },
        NamespaceSetting(
            "yjs_max_update_bytes", default: "1048576",
            summary: "The largest Yjs update or sync step 2 a client may send (1009 past it); `limits.max_message_bytes` bounds every message too."
        ) { value, target throws(InvalidConfigurationValue) in
            target.yjsMaxUpdateBytes = try ConfigurationParse.bytes(value)
        },
        NamespaceSetting(
            "yjs_max_document_bytes", default: "16777216",
            summary: "The largest a room's compacted document may grow; an update past it is refused with 4510 and not stored."
        ) { value, target throws(InvalidConfigurationValue) in
            target.yjsMaxDocumentBytes = try ConfigurationParse.bytes(value)
        },
        NamespaceSetting(
            "yjs_compact_after_updates", default: "100",
            summary: "A room's update log is merged into one update once it holds this many updates, 1…1000000."
        ) { value, target throws(InvalidConfigurationValue) in
            target.yjsCompactAfterUpdates = try ConfigurationParse.count(value, in: 1...1_000_000)
        },
        NamespaceSetting(
            "yjs_compact_after_bytes", default: "262144",
            summary: "…or once the updates added since the last compaction reach this many bytes."
        ) { value, target throws(InvalidConfigurationValue) in
            target.yjsCompactAfterBytes = try ConfigurationParse.bytes(value)
        },
    ]

    /// Lookup by option name.
    static let byOption: [String: NamespaceSetting] = Dictionary(uniqueKeysWithValues: all.map { ($0.option, $0) })
}

extension ConfigurationKey {
    /// The public view of the schema: top-level keys, then `channel_defaults.*`, then `namespaces.<name>.*`.
    static let schema: [ConfigurationKey] = {
        let top = HubSetting.all.map {
            ConfigurationKey(
                key: $0.key, envName: $0.envName, cliFlag: $0.cliFlag,
                defaultDescription: $0.defaultLiteral.isEmpty ? "(empty)" : $0.defaultLiteral,
                summary: $0.summary, defaultLiteral: $0.defaultLiteral
            )
        }
        let channelDefaults = NamespaceSetting.all.map {
            ConfigurationKey(
                key: "channel_defaults." + $0.option, envName: $0.channelDefaultsEnvName, cliFlag: nil,
                defaultDescription: $0.defaultDescription, summary: $0.summary, defaultLiteral: $0.defaultLiteral
            )
        }
        let perNamespace = NamespaceSetting.all.map {
            ConfigurationKey(
                key: "namespaces.<name>." + $0.option, envName: nil, cliFlag: nil,
                defaultDescription: "channel_defaults." + $0.option,
                summary: "Overrides channel_defaults.\($0.option) for one namespace.", defaultLiteral: nil
            )
        }
        return top + channelDefaults + perNamespace
    }()

    /// Dotted key for each environment variable the schema knows.
    static let keyByEnvName: [String: String] = Dictionary(
        uniqueKeysWithValues: schema.compactMap { entry in entry.envName.map { ($0, entry.key) } }
    )
}

/// Parsers shared by the schema; each refuses with a reason that quotes the value as written.
enum ConfigurationParse {
    /// One of an enumeration's raw values, case-insensitive.
    static func choice<T: RawRepresentable & CaseIterable>(_ raw: String, of type: T.Type) throws(InvalidConfigurationValue) -> T
    where T.RawValue == String {
        guard let value = T(rawValue: trimmed(raw).lowercased()) else {
            let names = T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
            throw InvalidConfigurationValue(reason: "expected \(names), got \(quoted(raw))")
        }
        return value
    }

    static func mode(_ raw: String) throws(InvalidConfigurationValue) -> HubConfiguration.Mode {
        guard let mode = HubConfiguration.Mode(rawValue: trimmed(raw).lowercased()) else {
            throw InvalidConfigurationValue(reason: "expected \"development\" or \"production\", got \(quoted(raw))")
        }
        return mode
    }

    static func host(_ raw: String) throws(InvalidConfigurationValue) -> String {
        let host = trimmed(raw)
        guard !host.isEmpty, !host.contains(where: \.isWhitespace) else {
            throw InvalidConfigurationValue(reason: "expected a host name or IP address, got \(quoted(raw))")
        }
        return host
    }

    static func port(_ raw: String) throws(InvalidConfigurationValue) -> Int {
        guard let port = try? wholeNumber(raw, unit: nil, in: 0...65_535) else {
            throw InvalidConfigurationValue(reason: "expected a port number from 0 to 65535, got \(quoted(raw))")
        }
        return port
    }

    /// Empty means "generate one at start"; the reason never quotes the value, because it is a secret.
    /// Comma-separated origins: `scheme://host[:port]`, or `scheme://*.domain` for every subdomain.
    static func origins(_ raw: String) throws(InvalidConfigurationValue) -> [String] {
        var origins: [String] = []
        for part in raw.split(separator: ",") {
            let origin = trimmed(String(part))
            guard origin.hasPrefix("http://") || origin.hasPrefix("https://"), !origin.dropFirst(8).contains("/") else {
                throw InvalidConfigurationValue(reason: "origins look like https://app.example.com or https://*.example.com, got \(quoted(origin))")
            }
            origins.append(origin)
        }
        return origins
    }

    /// Comma-separated host names as `Host` carries them without port: `app.example.com`, or `*.example.com` for
    /// every subdomain.
    static func hostNames(_ raw: String) throws(InvalidConfigurationValue) -> [String] {
        var names: [String] = []
        for part in raw.split(separator: ",") {
            let name = trimmed(String(part)).lowercased()
            let bare = name.hasPrefix("*.") ? String(name.dropFirst(2)) : name
            guard !bare.isEmpty, !bare.contains(":") || bare.hasPrefix("["), HostPolicy.hostName(bare) == bare else {
                throw InvalidConfigurationValue(
                    reason: "host names look like app.example.com or *.example.com (no scheme, no port), got \(quoted(name))")
            }
            names.append(name)
        }
        return names
    }

    static func apiKey(_ raw: String) throws(InvalidConfigurationValue) -> String? {
        guard !raw.isEmpty else { return nil }
        guard raw.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) else {
            throw InvalidConfigurationValue(reason: "must contain only printable ASCII characters, without spaces")
        }
        guard raw.count >= 16 else {
            throw InvalidConfigurationValue(reason: "must be at least 16 characters long, got \(raw.count)")
        }
        return raw
    }

    static func bool(_ raw: String) throws(InvalidConfigurationValue) -> Bool {
        switch trimmed(raw).lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw InvalidConfigurationValue(reason: "expected true/false, yes/no, on/off or 1/0, got \(quoted(raw))")
        }
    }

    static func bytes(_ raw: String, atLeast minimum: Int = 1) throws(InvalidConfigurationValue) -> Int {
        try wholeNumber(raw, unit: "bytes", in: minimum...Int.max)
    }

    static func count(_ raw: String, in range: ClosedRange<Int>) throws(InvalidConfigurationValue) -> Int {
        try wholeNumber(raw, unit: nil, in: range)
    }

    static func milliseconds(_ raw: String, atLeast minimum: Int) throws(InvalidConfigurationValue) -> Duration {
        .milliseconds(try wholeNumber(raw, unit: "milliseconds", in: minimum...Int.max))
    }

    /// Plain decimal digits only: no sign, no suffix like "12k" or "5s", no fraction, so units are never guessed.
    static func wholeNumber(_ raw: String, unit: String?, in range: ClosedRange<Int>) throws(InvalidConfigurationValue) -> Int {
        let text = trimmed(raw)
        let isNegative = text.hasPrefix("-")
        let digits = isNegative ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            throw InvalidConfigurationValue(reason: "expected a whole number\(unit.map { " of \($0)" } ?? ""), got \(quoted(raw))")
        }
        if isNegative {
            let rule = range.lowerBound == 0 ? "must not be negative" : "must be at least \(range.lowerBound)"
            throw InvalidConfigurationValue(reason: "\(rule), got \(quoted(raw))")
        }
        guard let number = Int(digits), number <= range.upperBound else {
            let rule = range.upperBound == Int.max ? "is too large" : "must be at most \(range.upperBound)"
            throw InvalidConfigurationValue(reason: "\(rule), got \(quoted(raw))")
        }
        guard number >= range.lowerBound else {
            throw InvalidConfigurationValue(reason: "must be at least \(range.lowerBound), got \(quoted(raw))")
        }
        return number
    }

    static func trimmed(_ raw: String) -> String {
        String(raw.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }

    /// Swift string-literal quoting, so control characters and quotes in a bad value stay visible.
    static func quoted(_ raw: String) -> String {
        String(reflecting: raw)
    }
}

/// A numbered reason for refusing a command or request. The same numbers appear in command error replies and in the
/// JSON bodies of HTTP refusals; docs/protocol.md lists them all.
public struct ErrorCode: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    /// Short stable name, for logs and metrics labels.
    public let name: String

    private init(_ rawValue: Int, _ name: String) {
        self.rawValue = rawValue
        self.name = name
    }

    public var description: String { "\(rawValue) \(name)" }

    /// Something failed inside the server; the client may retry.
    public static let internalError = ErrorCode(100, "internal_error")
    /// The namespace does not allow anonymous access and the session has no user.
    public static let unauthorized = ErrorCode(101, "unauthorized")
    /// The channel's namespace is not configured (production mode only).
    public static let unknownNamespace = ErrorCode(102, "unknown_namespace")
    /// The namespace does not allow clients to publish.
    public static let publishNotAllowed = ErrorCode(103, "publish_not_allowed")
    /// The `cmd` is not one this protocol version knows.
    public static let unknownCommand = ErrorCode(104, "unknown_command")
    public static let alreadySubscribed = ErrorCode(105, "already_subscribed")
    /// The connection holds `limits.max_subscriptions_per_connection` subscriptions already.
    public static let tooManySubscriptions = ErrorCode(106, "too_many_subscriptions")
    /// A required field is missing or has the wrong type (e.g. no `id`).
    public static let badRequest = ErrorCode(107, "bad_request")
    public static let invalidChannel = ErrorCode(108, "invalid_channel")
    public static let notSubscribed = ErrorCode(109, "not_subscribed")
    /// Larger than `limits.max_message_bytes`.
    public static let messageTooLarge = ErrorCode(110, "message_too_large")
    /// The command itself is not valid JSON.
    public static let malformedJSON = ErrorCode(111, "malformed_json")
    /// Publication data is not valid JSON.
    public static let invalidData = ErrorCode(112, "invalid_data")
    /// The WebSocket subprotocol asked for is not supported; the refusal names the supported ones.
    public static let unsupportedSubprotocol = ErrorCode(113, "unsupported_subprotocol")
    /// A stream position (`since`, `Last-Event-ID`) could not be parsed.
    public static let invalidPosition = ErrorCode(114, "invalid_position")
    /// Binary data where the namespace only takes text.
    public static let binaryNotAllowed = ErrorCode(115, "binary_not_allowed")
    /// Missing or wrong API key on the HTTP API.
    public static let invalidAPIKey = ErrorCode(116, "invalid_api_key")
    /// More channels in one SSE URL than `limits.max_sse_channels`.
    public static let tooManyChannels = ErrorCode(117, "too_many_channels")
    public static let notFound = ErrorCode(118, "not_found")
    /// The server is draining for shutdown.
    public static let shuttingDown = ErrorCode(119, "shutting_down")
    /// A WebSocket endpoint was requested without a valid upgrade.
    public static let upgradeRequired = ErrorCode(120, "upgrade_required")
    public static let methodNotAllowed = ErrorCode(121, "method_not_allowed")

    /// The token's capabilities (or a private namespace) do not allow subscribing to the channel.
    public static let subscribeDenied = ErrorCode(122, "subscribe_denied")
    /// The token is malformed, badly signed, signed with an unexpected algorithm, not yet valid, or for another
    /// audience or issuer. Get a new token; retrying the same one fails again.
    public static let invalidToken = ErrorCode(123, "invalid_token")
    /// The token's `exp` has passed. Get a fresh token (refresh) and retry.
    public static let tokenExpired = ErrorCode(124, "token_expired")
    /// A subscription token is invalid for this channel or user.
    public static let invalidSubscriptionToken = ErrorCode(125, "invalid_subscription_token")
    /// A single-use token was presented again.
    public static let tokenReused = ErrorCode(126, "token_reused")

    /// A browser page from an origin that is not allowed (cross-site WebSocket hijacking defence).
    public static let originNotAllowed = ErrorCode(127, "origin_not_allowed")
    /// A rate or connection limit was exceeded; retry later (the reason names the limit).
    public static let rateLimited = ErrorCode(128, "rate_limited")
    /// An HTTP command or poll named a session that does not exist (never opened, expired or ended).
    public static let sessionNotFound = ErrorCode(129, "session_not_found")
    /// The channel's namespace does not track presence (`presence: false`).
    public static let presenceNotEnabled = ErrorCode(130, "presence_not_enabled")
    /// The token's capabilities do not grant seeing the channel's presence.
    public static let presenceDenied = ErrorCode(131, "presence_denied")
    /// The namespace does not take signals (`allow_signals: false`).
    public static let signalsNotAllowed = ErrorCode(132, "signals_not_allowed")
    /// A publish asked for receipts, or an `ack`/`receipts` command came, on a namespace without `receipts: true`.
    public static let receiptsNotEnabled = ErrorCode(133, "receipts_not_enabled")
    /// No receipt record for that offset: it did not ask for receipts, or it left the channel's history.
    public static let receiptNotFound = ErrorCode(134, "receipt_not_found")
    /// Only the publisher may read a publication's receipts.
    public static let receiptsDenied = ErrorCode(135, "receipts_denied")
    /// The engine (the database behind the hub) cannot be reached right now; retry the same command later.
    public static let engineUnavailable = ErrorCode(136, "engine_unavailable")
    /// The engine did not answer within `engine.call_timeout_ms`. Retry; a publish retried with the same idempotency
    /// key is not published twice.
    public static let engineTimeout = ErrorCode(137, "engine_timeout")
    /// The engine refused the request itself; retrying it unchanged fails again.
    public static let engineRejected = ErrorCode(138, "engine_rejected")
    /// The request's `Host` names a server this one is not (`server.public_hosts`; in development localhost names and
    /// IP addresses): a page whose DNS name was rebound to this address, or a misrouted request.
    public static let hostNotAllowed = ErrorCode(139, "host_not_allowed")

    public static let all: [ErrorCode] = [
        .internalError, .unauthorized, .unknownNamespace, .publishNotAllowed, .unknownCommand, .alreadySubscribed,
        .tooManySubscriptions, .badRequest, .invalidChannel, .notSubscribed, .messageTooLarge, .malformedJSON,
        .invalidData, .unsupportedSubprotocol, .invalidPosition, .binaryNotAllowed, .invalidAPIKey, .tooManyChannels,
        .notFound, .shuttingDown, .upgradeRequired, .methodNotAllowed, .subscribeDenied, .invalidToken, .tokenExpired,
        .invalidSubscriptionToken, .tokenReused, .originNotAllowed, .rateLimited, .sessionNotFound, .presenceNotEnabled,
        .presenceDenied, .signalsNotAllowed, .receiptsNotEnabled, .receiptNotFound, .receiptsDenied, .engineUnavailable,
        .engineTimeout, .engineRejected, .hostNotAllowed,
    ]
}

/// A refusal: a code plus a human reason.
public struct ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: ErrorCode
    public var reason: String

    public init(_ code: ErrorCode, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code.rawValue) \(code.name): \(reason)" }
}

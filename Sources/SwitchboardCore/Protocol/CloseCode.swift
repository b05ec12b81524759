/// WebSocket close codes the server sends, with the one rule clients follow (browsers see only the close code):
///
/// - `4000–4499`: reconnect (with backoff) and recover from the last position;
/// - `4500–4999`: do not reconnect until something changes (bad request, bad token);
/// - standard codes: 1001, 1006, 1011, 1012, 1013 mean reconnect; 1000, 1002, 1003, 1007, 1008, 1009, 1010 do not.
public struct CloseCode: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    /// Default reason text sent in the close frame and the disconnect push.
    public let reason: String

    public init(_ rawValue: UInt16, _ reason: String) {
        self.rawValue = rawValue
        self.reason = reason
    }

    public var description: String { "\(rawValue) \(reason)" }

    /// Whether a client should reconnect after this code (the rule above).
    public var reconnect: Bool {
        switch rawValue {
        case 4000..<4500, 1001, 1006, 1011, 1012, 1013: return true
        default: return false
        }
    }

    /// Whether a peer may send `code` in a close frame (RFC 6455 section 7.4).
    public static func isValidFromPeer(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1011, 3000...4999: return true
        default: return false
        }
    }

    public static let normal = CloseCode(1000, "normal closure")
    public static let protocolError = CloseCode(1002, "protocol error")
    public static let unsupportedData = CloseCode(1003, "binary frames are not accepted here")
    public static let policyViolation = CloseCode(1008, "clients may not publish to this namespace")
    public static let invalidPayload = CloseCode(1007, "text frame is not valid UTF-8")
    public static let messageTooLarge = CloseCode(1009, "message too large")
    public static let internalError = CloseCode(1011, "internal server error")

    /// Server is shutting down or restarting; reconnect (possibly to another node) and recover.
    public static let shutdown = CloseCode(4001, "server shutting down")
    /// The session's outbound queue overflowed; reconnect and recover what was missed.
    public static let slowConsumer = CloseCode(4002, "slow consumer: outbound queue limit reached")
    /// No pong or other traffic after a heartbeat ping.
    public static let heartbeatTimeout = CloseCode(4003, "heartbeat timeout")
    /// The client kept exceeding its command or publish rate after being told: reconnect later, more slowly.
    public static let rateLimited = CloseCode(4004, "rate limit exceeded repeatedly")
    /// An operator disconnected the session (`POST /api/disconnect` with `"reconnect": true`, the default): reconnect
    /// and recover.
    public static let disconnectedReconnect = CloseCode(4005, "disconnected by the server")
    /// An operator disconnected the session (`POST /api/disconnect` with `"reconnect": false`): do not reconnect.
    public static let disconnected = CloseCode(4503, "disconnected by the server; do not reconnect")
    /// The session's token id was revoked (`POST /api/revoke`): get a new token before reconnecting.
    public static let tokenRevoked = CloseCode(4501, "token revoked")
    /// The token was refused (bad signature, algorithm, audience…): get a new token before reconnecting.
    public static let invalidToken = CloseCode(4501, "invalid token")
    /// The token expired and was not refreshed in time: get a new token, then reconnect and recover.
    public static let tokenExpired = CloseCode(4502, "token expired")
    /// The client kept sending commands that cannot be parsed.
    public static let badProtocol = CloseCode(4500, "too many malformed commands")
    /// A Yjs update would grow the room's document past `yjs_max_document_bytes`; the document was left unchanged.
    public static let documentTooLarge = CloseCode(4510, "document size limit reached")
}

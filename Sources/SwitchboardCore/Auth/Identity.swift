/// Who a connection is, once its token was verified.
public struct Identity: Hashable, Sendable {
    /// The token's `sub`; never empty (an empty `sub` is an anonymous connection, which has no identity).
    public var user: String
    /// Nil when the token names no capabilities: the namespace rules alone decide.
    public var capabilities: Capabilities?
    /// Unix seconds; nil when the token does not expire.
    public var expiresAt: Int64?
    /// The token's `jti`, so that revoking that id (`POST /api/revoke`) also ends the connections it opened.
    public var tokenID: String?

    public init(user: String, capabilities: Capabilities? = nil, expiresAt: Int64? = nil, tokenID: String? = nil) {
        self.user = user
        self.capabilities = capabilities
        self.expiresAt = expiresAt
        self.tokenID = tokenID
    }
}

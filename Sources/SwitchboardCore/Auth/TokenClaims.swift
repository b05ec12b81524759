/// The claims Switchboard reads from a connection or subscription token, after its signature was verified.
///
/// Times are Unix seconds. `caps` is Switchboard's capabilities claim:
/// `{"subscribe": ["chat:*"], "publish": ["chat:lobby"], "presence": ["chat:*"]}`.
/// `channel` marks a subscription token (it grants that one channel to `sub`). `once: true` with a `jti` makes the token
/// single-use.
public struct TokenClaims: Hashable, Sendable {
    public var subject: String?
    public var expiresAt: Int64?
    public var notBefore: Int64?
    public var issuedAt: Int64?
    public var audience: [String]
    public var issuer: String?
    public var capabilities: Capabilities?
    public var tokenID: String?
    public var singleUse: Bool
    public var channel: String?

    public init(
        subject: String? = nil, expiresAt: Int64? = nil, notBefore: Int64? = nil, issuedAt: Int64? = nil, audience: [String] = [],
        issuer: String? = nil, capabilities: Capabilities? = nil, tokenID: String? = nil, singleUse: Bool = false, channel: String? = nil
    ) {
        self.subject = subject
        self.expiresAt = expiresAt
        self.notBefore = notBefore
        self.issuedAt = issuedAt
        self.audience = audience
        self.issuer = issuer
        self.capabilities = capabilities
        self.tokenID = tokenID
        self.singleUse = singleUse
        self.channel = channel
    }
}

/// Checks a verified token's claims against the configured policy and the current time. Pure: the caller passes
/// `now`, so expiry is tested without waiting.
public struct TokenValidator: Sendable {
    public var audience: String?
    public var issuer: String?
    public var requireExpiry: Bool
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    public var leeway: Int64

    public init(audience: String? = nil, issuer: String? = nil, requireExpiry: Bool = true, leeway: Int64 = 5) {
        self.audience = audience
        self.issuer = issuer
        self.requireExpiry = requireExpiry
        self.leeway = leeway
    }

    /// The identity a connection token proves; nil identity for an anonymous token (`sub` empty or absent).
    public func connectionIdentity(_ claims: TokenClaims, now: Int64) -> Result<Identity?, ProtocolError> {
        if let error = checkCommon(claims, now: now) { return .failure(error) }
        guard claims.channel == nil else {
            return .failure(ProtocolError(.invalidToken, "a subscription token cannot open a connection"))
        }
        guard let user = claims.subject, !user.isEmpty else { return .success(nil) }
        return .success(Identity(user: user, capabilities: claims.capabilities, expiresAt: claims.expiresAt, tokenID: claims.tokenID))
    }

    /// Checks a subscription token for `channel` presented by `user` (nil: anonymous).
    public func checkSubscriptionToken(_ claims: TokenClaims, channel: ChannelName, user: String?, now: Int64) -> ProtocolError? {
        if let error = checkCommon(claims, now: now) { return error }
        guard claims.channel == channel.rawValue else {
            return ProtocolError(.invalidSubscriptionToken, "subscription token is for another channel")
        }
        guard (claims.subject ?? "") == (user ?? "") else {
            return ProtocolError(.invalidSubscriptionToken, "subscription token is for another user")
        }
        return nil
    }

    private func checkCommon(_ claims: TokenClaims, now: Int64) -> ProtocolError? {
        if let expiresAt = claims.expiresAt {
            if now > expiresAt + leeway { return ProtocolError(.tokenExpired, "token expired") }
        } else if requireExpiry {
            return ProtocolError(.invalidToken, "token has no exp claim")
        }
        if let notBefore = claims.notBefore, now + leeway < notBefore {
            return ProtocolError(.invalidToken, "token is not valid yet (nbf)")
        }
        if let audience, !claims.audience.contains(audience) {
            return ProtocolError(.invalidToken, "token audience does not match")
        }
        if let issuer, claims.issuer != issuer {
            return ProtocolError(.invalidToken, "token issuer does not match")
        }
        if claims.singleUse && (claims.tokenID ?? "").isEmpty {
            return ProtocolError(.invalidToken, "a single-use token needs a jti")
        }
        return nil
    }
}

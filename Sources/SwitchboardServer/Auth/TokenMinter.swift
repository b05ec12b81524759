public import Foundation
import JWTKit
public import SwitchboardCore

/// Signs development tokens with the configured HMAC secret (`switchboard token`, tests and the README tour).
public struct TokenMinter: Sendable {
    private let secret: String

    public init(hmacSecret: String) { self.secret = hmacSecret }

    /// - Parameters:
    ///   - lifetime: nil for a token without `exp` (refused unless `auth.require_expiry` is false).
    ///   - capabilities: nil for a token without a capabilities claim.
    ///   - channel: makes a subscription token for that channel.
    public func mint(
        subject: String, lifetime: Duration?, capabilities: Capabilities? = nil, channel: String? = nil, audience: String? = nil,
        issuer: String? = nil, singleUseID: String? = nil, notBefore: Date? = nil, now: Date = Date(), algorithm: DigestAlgorithmName = .sha256,
        tokenID: String? = nil
    ) async throws -> String {
        let issuedAt = Int64(now.timeIntervalSince1970)
        var payload = TokenPayload()
        payload.sub = subject
        payload.iat = issuedAt
        payload.exp = lifetime.map { issuedAt + $0.components.seconds }
        payload.nbf = notBefore.map { Int64($0.timeIntervalSince1970) }
        payload.channel = channel
        payload.iss = issuer
        payload.aud = audience.map { TokenPayload.AudienceValue(values: [$0]) }
        payload.jti = tokenID
        if let singleUseID {
            payload.jti = singleUseID
            payload.once = true
        }
        payload.caps = capabilities.map {
            TokenPayload.CapabilitiesClaim(subscribe: $0.subscribe.map(\.text), publish: $0.publish.map(\.text), presence: $0.presence.map(\.text))
        }
        let keys = JWTKeyCollection()
        let digest: DigestAlgorithm =
            switch algorithm {
            case .sha256: .sha256
            case .sha384: .sha384
            case .sha512: .sha512
            }
        let needed =
            switch algorithm {
            case .sha256: 32;
            case .sha384: 48;
            case .sha512: 64
            }
        guard secret.utf8.count >= needed else {
            throw ServerSetupError(key: "auth.hmac_secret", reason: "needs \(needed)+ bytes for this algorithm")
        }
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: digest)
        return try await keys.sign(payload)
    }

    public enum DigestAlgorithmName: Sendable { case sha256, sha384, sha512 }
}

extension TokenPayload.AudienceValue {
    init(values: [String]) { self.values = values }
}

import Foundation
import JWTKit
import NIOConcurrencyHelpers
import SwitchboardCore

/// Verifies token signatures with jwt-kit and hands the claims to the pure ``TokenValidator``.
///
/// Keys come from the configuration: an HMAC secret (HS256/384/512), a PEM public key (RS256, ES256, EdDSA) and a
/// JWKS file (several keys picked by `kid`). A token whose `alg` does not match its key, `alg: none`, or a bad
/// signature is refused by jwt-kit before any claim is read.
final class TokenVerifier: Sendable {
    private let keys: JWTKeyCollection
    private let hasKeys: Bool
    let validator: TokenValidator
    private let usedTokenIDs = NIOLockedValueBox<[String: Int64]>([:])
    private let now: @Sendable () -> Int64

    init(_ auth: HubConfiguration.Auth, now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) async throws {
        let keys = JWTKeyCollection()
        if let secret = auth.hmacSecret {
            // One secret verifies every HMAC size it is long enough for (RFC 7518: at least the digest's length);
            // the token's `alg` picks the digest.
            let length = secret.utf8.count
            await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256, kid: "hs256")
            if length >= 48 { await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha384, kid: "hs384") }
            if length >= 64 { await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha512, kid: "hs512") }
        }
        if let path = auth.publicKeyFile {
            guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ServerSetupError(key: "auth.public_key_file", reason: "cannot read \(path)")
            }
            try await Self.addPublicKey(pem: pem, to: keys)
        }
        if let path = auth.jwksFile {
            guard let json = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ServerSetupError(key: "auth.jwks_file", reason: "cannot read \(path)")
            }
            do {
                try await keys.add(jwksJSON: json)
            } catch {
                throw ServerSetupError(key: "auth.jwks_file", reason: "not a usable JWKS: \(error)")
            }
        }
        self.keys = keys
        self.hasKeys = auth.hasKeys
        self.validator = TokenValidator(audience: auth.audience, issuer: auth.issuer, requireExpiry: auth.requireExpiry)
        self.now = now
    }

    private static func addPublicKey(pem: String, to keys: JWTKeyCollection) async throws {
        if let key = try? Insecure.RSA.PublicKey(pem: pem) {
            await keys.add(rsa: key, digestAlgorithm: .sha256, kid: "pem")
        } else if let key = try? ES256PublicKey(pem: pem) {
            await keys.add(ecdsa: key, kid: "pem")
        } else if let key = try? EdDSA.PublicKey(pem: pem) {
            await keys.add(eddsa: key, kid: "pem")
        } else {
            throw ServerSetupError(key: "auth.public_key_file", reason: "not an RSA, P-256 or Ed25519 public key in PEM form")
        }
    }

    var currentTime: Int64 { now() }

    /// Checks the signature and decodes the claims; the time-based and policy checks are the validator's.
    func claims(of token: String) async -> Result<TokenClaims, ProtocolError> {
        guard hasKeys else { return .failure(ProtocolError(.invalidToken, "this server has no token keys configured")) }
        guard token.utf8.count <= 8192 else { return .failure(ProtocolError(.invalidToken, "token is too long")) }
        do {
            let payload = try await verifyWithAnyKey(token)
            return .success(payload.claims)
        } catch {
            return .failure(ProtocolError(.invalidToken, "token signature or format is invalid"))
        }
    }

    /// Tokens carry no `kid` for the configured secret or PEM key, so every key is tried (jwt-kit still requires the
    /// token's `alg` to match each key's algorithm).
    private func verifyWithAnyKey(_ token: String) async throws -> TokenPayload {
        try await keys.verify(token, as: TokenPayload.self, iteratingKeys: true)
    }

    /// The identity of a connection token (nil for an anonymous token), after every check, single use included.
    func connectionIdentity(_ token: String) async -> Result<Identity?, ProtocolError> {
        switch await claims(of: token) {
        case .failure(let error): return .failure(error)
        case .success(let claims):
            let result = validator.connectionIdentity(claims, now: now())
            if case .success = result, let error = consumeIfSingleUse(claims) { return .failure(error) }
            return result
        }
    }

    /// Checks a subscription token for `channel` and `user`.
    func checkSubscriptionToken(_ token: String, channel: ChannelName, user: String?) async -> ProtocolError? {
        switch await claims(of: token) {
        case .failure(let error): return ProtocolError(.invalidSubscriptionToken, error.reason)
        case .success(let claims):
            if let error = validator.checkSubscriptionToken(claims, channel: channel, user: user, now: now()) { return error }
            return consumeIfSingleUse(claims)
        }
    }

    /// Remembers single-use token ids until they expire, refusing a second presentation.
    private func consumeIfSingleUse(_ claims: TokenClaims) -> ProtocolError? {
        guard claims.singleUse, let id = claims.tokenID else { return nil }
        let now = self.now()
        let expiry = claims.expiresAt ?? (now + 86_400)
        return usedTokenIDs.withLockedValue { used in
            if used.count > 10_000 { used = used.filter { $0.value >= now } }
            if let seen = used[id], seen >= now { return ProtocolError(.tokenReused, "single-use token was already used") }
            used[id] = expiry
            return nil
        }
    }
}

/// The JSON shape of Switchboard's tokens; jwt-kit decodes it after verifying the signature.
struct TokenPayload: JWTPayload {
    var sub: String?
    var exp: Int64?
    var nbf: Int64?
    var iat: Int64?
    var aud: AudienceValue?
    var iss: String?
    var jti: String?
    var once: Bool?
    var channel: String?
    var caps: CapabilitiesClaim?

    struct CapabilitiesClaim: Codable, Sendable {
        var subscribe: [String]?
        var publish: [String]?
        var presence: [String]?
    }

    /// `aud` may be one string or an array (RFC 7519).
    struct AudienceValue: Codable, Sendable {
        var values: [String]
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let one = try? container.decode(String.self) { values = [one] } else { values = try container.decode([String].self) }
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            if values.count == 1 { try container.encode(values[0]) } else { try container.encode(values) }
        }
    }

    /// Claims are checked by `TokenValidator` with an injectable clock, not here.
    func verify(using algorithm: some JWTAlgorithm) async throws {}

    var claims: TokenClaims {
        TokenClaims(
            subject: sub, expiresAt: exp, notBefore: nbf, issuedAt: iat, audience: aud?.values ?? [], issuer: iss,
            capabilities: caps.map {
                Capabilities(
                    subscribe: ($0.subscribe ?? []).map(ChannelPattern.init), publish: ($0.publish ?? []).map(ChannelPattern.init),
                    presence: ($0.presence ?? []).map(ChannelPattern.init)
                )
            },
            tokenID: jti, singleUse: once ?? false, channel: channel
        )
    }
}

/// A configured resource (key file, JWKS) that cannot be used; reported at start with the key that names it.
public struct ServerSetupError: Error, CustomStringConvertible {
    public var key: String
    public var reason: String
    public var description: String { "\(key): \(reason)" }
}

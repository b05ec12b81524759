import Foundation
import JWTKit
import NIOConcurrencyHelpers
import SwitchboardCore

/// Verifies token signatures with jwt-kit and hands the claims to the pure ``TokenValidator``.
///
/// Keys come from the configuration: an HMAC secret (HS256/384/512), a PEM public key (RS256, ES256, EdDSA) and a
/// JWKS file (several keys picked by `kid`). A token whose header `alg` is not exactly the algorithm a configured key
/// was set up for (`none`, `foo`, `HS512` against an HS256-only secret, `RS256` against an HMAC secret, no `alg`), or
/// a bad signature, is refused before any claim is read.
final class TokenVerifier: Sendable {
    /// One configured key, in a collection of its own, with the one `alg` a token may name to be checked with it.
    private struct AcceptedKey: Sendable {
        var algorithm: String
        /// The JWKS `kid`; nil for the HMAC secret and the PEM key (tokens for those carry no `kid`).
        var keyID: String?
        var collection: JWTKeyCollection
    }

    private let acceptedKeys: [AcceptedKey]
    private let hasKeys: Bool
    let validator: TokenValidator
    private let usedTokenIDs = NIOLockedValueBox<[String: Int64]>([:])
    private let revoked = NIOLockedValueBox(RevokedTokens())
    private let now: @Sendable () -> Int64

    init(_ auth: HubConfiguration.Auth, now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) async throws {
        var accepted: [AcceptedKey] = []
        if let secret = auth.hmacSecret {
            // One secret verifies every HMAC size it is long enough for (RFC 7518: at least the digest's length).
            let length = secret.utf8.count
            let sizes: [(String, DigestAlgorithm, Int)] = [("HS256", .sha256, 32), ("HS384", .sha384, 48), ("HS512", .sha512, 64)]
            for (name, digest, minimum) in sizes where name == "HS256" || length >= minimum {
                let collection = JWTKeyCollection()
                await collection.add(hmac: HMACKey(from: secret), digestAlgorithm: digest)
                accepted.append(AcceptedKey(algorithm: name, keyID: nil, collection: collection))
            }
        }
        if let path = auth.publicKeyFile {
            guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ServerSetupError(key: "auth.public_key_file", reason: "cannot read \(path)")
            }
            accepted.append(try await Self.publicKey(pem: pem))
        }
        if let path = auth.jwksFile {
            guard let json = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ServerSetupError(key: "auth.jwks_file", reason: "cannot read \(path)")
            }
            accepted += try await Self.jwksKeys(json)
        }
        self.acceptedKeys = accepted
        self.hasKeys = auth.hasKeys
        self.validator = TokenValidator(audience: auth.audience, issuer: auth.issuer, requireExpiry: auth.requireExpiry)
        self.now = now
    }

    private static func publicKey(pem: String) async throws -> AcceptedKey {
        let collection = JWTKeyCollection()
        if let key = try? Insecure.RSA.PublicKey(pem: pem) {
            await collection.add(rsa: key, digestAlgorithm: .sha256)
            return AcceptedKey(algorithm: "RS256", keyID: nil, collection: collection)
        } else if let key = try? ES256PublicKey(pem: pem) {
            await collection.add(ecdsa: key)
            return AcceptedKey(algorithm: "ES256", keyID: nil, collection: collection)
        } else if let key = try? EdDSA.PublicKey(pem: pem) {
            await collection.add(eddsa: key)
            return AcceptedKey(algorithm: "EdDSA", keyID: nil, collection: collection)
        }
        throw ServerSetupError(key: "auth.public_key_file", reason: "not an RSA, P-256 or Ed25519 public key in PEM form")
    }

    /// Each JWK becomes a key of its own, accepted for its `alg` member or, without one, the algorithm its key type
    /// implies (RSA: RS256, EC: by curve, OKP Ed25519: EdDSA).
    private static func jwksKeys(_ json: String) async throws -> [AcceptedKey] {
        func refuse(_ reason: String) -> ServerSetupError { ServerSetupError(key: "auth.jwks_file", reason: reason) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
            let keys = object["keys"] as? [[String: Any]]
        else { throw refuse("not a usable JWKS: no \"keys\" array") }
        var accepted: [AcceptedKey] = []
        for jwk in keys {
            let keyID = jwk["kid"] as? String
            guard let algorithm = (jwk["alg"] as? String) ?? impliedAlgorithm(jwk) else {
                throw refuse("JWK \(keyID ?? "without kid") has no alg and no key type that implies one")
            }
            let collection = JWTKeyCollection()
            do {
                let single = try JSONSerialization.data(withJSONObject: ["keys": [jwk]])
                try await collection.add(jwksJSON: String(decoding: single, as: UTF8.self))
            } catch {
                throw refuse("not a usable JWKS: \(error)")
            }
            accepted.append(AcceptedKey(algorithm: algorithm, keyID: keyID, collection: collection))
        }
        return accepted
    }

    private static func impliedAlgorithm(_ jwk: [String: Any]) -> String? {
        switch (jwk["kty"] as? String, jwk["crv"] as? String) {
        case ("RSA", _): "RS256"
        case ("EC", "P-256"): "ES256"
        case ("EC", "P-384"): "ES384"
        case ("EC", "P-521"): "ES512"
        case ("OKP", "Ed25519"): "EdDSA"
        default: nil
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

    /// Checks the signature with the keys configured for the header's `alg` only: a token naming an algorithm no key
    /// was configured for (`none`, `HS512` against a short secret, `RS256` against an HMAC secret) is refused even
    /// when its bytes would verify. A `kid` that names a JWKS key narrows the choice to that key.
    private func verifyWithAnyKey(_ token: String) async throws -> TokenPayload {
        let header = try TokenHeader.parse(token: token)
        var candidates = acceptedKeys.filter { $0.algorithm == header.algorithm }
        if let keyID = header.keyID, candidates.contains(where: { $0.keyID == keyID }) {
            candidates = candidates.filter { $0.keyID == keyID }
        }
        var lastError: (any Error)?
        for key in candidates {
            do {
                return try await key.collection.verify(token, as: TokenPayload.self, iteratingKeys: true)
            } catch {
                lastError = error
            }
        }
        throw lastError ?? TokenHeader.Refusal(reason: "no key is configured for alg \(header.algorithm)")
    }

    /// The identity of a connection token (nil for an anonymous token), after every check, single use included.
    func connectionIdentity(_ token: String) async -> Result<Identity?, ProtocolError> {
        switch await claims(of: token) {
        case .failure(let error): return .failure(error)
        case .success(let claims):
            let result = validator.connectionIdentity(claims, now: now())
            if case .success = result, let error = refuseIfRevoked(claims, .invalidToken) ?? consumeIfSingleUse(claims) { return .failure(error) }
            return result
        }
    }

    /// Checks a subscription token for `channel` and `user`.
    func checkSubscriptionToken(_ token: String, channel: ChannelName, user: String?) async -> ProtocolError? {
        switch await claims(of: token) {
        case .failure(let error): return ProtocolError(.invalidSubscriptionToken, error.reason)
        case .success(let claims):
            if let error = validator.checkSubscriptionToken(claims, channel: channel, user: user, now: now()) { return error }
            return refuseIfRevoked(claims, .invalidSubscriptionToken) ?? consumeIfSingleUse(claims)
        }
    }

    /// Refuses tokens with the id `id` until `until` (Unix seconds) on this node (`POST /api/revoke`; a shared engine
    /// tells the other nodes).
    func revoke(tokenID id: String, until: Int64) {
        let now = self.now()
        revoked.withLockedValue { $0.revoke(id, until: until, now: now) }
    }

    private func refuseIfRevoked(_ claims: TokenClaims, _ code: ErrorCode) -> ProtocolError? {
        guard let id = claims.tokenID else { return nil }
        let now = self.now()
        guard revoked.withLockedValue({ $0.isRevoked(id, now: now) }) else { return nil }
        return ProtocolError(code, "token was revoked")
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

import Foundation
import SwitchboardCore
@_spi(Fuzzing) import SwitchboardServer

/// Tokens: the header read before any key is chosen, and the claims and the rules applied to them.
enum TokenTargets {
    private static let validator = TokenValidator(audience: "switchboard", issuer: nil, requireExpiry: true, leeway: 5)
    private static let channel = try! ChannelName(validating: "chat:room-1")

    /// The input as a compact JWT: the header is parsed as the verifier does before choosing a key (an `alg` it
    /// returns is never empty; `none` is refused later, by the key choice); the payload segment, decoded as jwt-kit would after the signature check, goes
    /// through the connection and subscription rules. The signature is not checked here: that is jwt-kit's.
    static func jwt(_ input: Data) throws(FuzzFinding) {
        guard let token = input.utf8Text else { return }
        if let header = try? TokenHeader.parse(token: token) {
            try require(!header.algorithm.isEmpty, "a header without alg was accepted")
        }
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3, let payload = Base64URL.decode(segments[1].utf8),
            let claims = try? FuzzingEntryPoints.tokenClaims(payloadJSON: Data(payload))
        else { return }
        let now: Int64 = 1_800_000_000
        if case .success(let identity) = validator.connectionIdentity(claims, now: now) {
            try require(claims.expiresAt.map { $0 + 5 >= now } ?? false, "an expired token (or one without exp) was accepted")
            try require(identity?.user == claims.subject || identity == nil, "the identity is not the token's subject")
        }
        _ = validator.checkSubscriptionToken(claims, channel: channel, user: claims.subject, now: now)
    }
}

/// Token ids (`jti`) revoked until a time: a token carrying one is refused until then (`POST /api/revoke`).
/// Pure: the caller passes `now` (Unix seconds).
public struct RevokedTokens: Sendable, Equatable {
    /// Ids past this count make a revocation drop the expired ones first.
    public static let pruneAbove = 10_000
    private var until: [String: Int64] = [:]

    public init() {}

    /// Refuses `id` until `expiresAt`; a later revocation of the same id keeps the later time.
    public mutating func revoke(_ id: String, until expiresAt: Int64, now: Int64) {
        if until.count >= Self.pruneAbove { until = until.filter { $0.value > now } }
        guard expiresAt > now else { return }
        until[id] = max(until[id] ?? expiresAt, expiresAt)
    }

    public func isRevoked(_ id: String, now: Int64) -> Bool {
        guard let expiresAt = until[id] else { return false }
        return expiresAt > now
    }

    public var count: Int { until.count }
}

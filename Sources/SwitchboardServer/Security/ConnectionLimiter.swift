import NIOConcurrencyHelpers
import SwitchboardCore

/// Counts open connections per node, per IP and per user, refusing one over a configured cap (0 = no cap).
final class ConnectionLimiter: Sendable {
    private struct Counts {
        var total = 0
        var perIP: [String: Int] = [:]
        var perUser: [String: Int] = [:]
    }

    private let counts = NIOLockedValueBox(Counts())
    private let limits: HubConfiguration.Limits

    init(limits: HubConfiguration.Limits) { self.limits = limits }

    /// Which cap a refused connection hit: the node's (503, try another node) or its address's (429, slow down).
    enum Refusal {
        case node(ProtocolError)
        case address(ProtocolError)
    }

    /// Admits a new connection from `ip`, or names the limit it would exceed.
    func admit(ip: String) -> Refusal? {
        counts.withLockedValue { counts in
            if limits.maxConnections > 0 && counts.total >= limits.maxConnections {
                return .node(ProtocolError(.rateLimited, "server connection limit reached (limits.max_connections)"))
            }
            if limits.maxConnectionsPerIP > 0 && counts.perIP[ip, default: 0] >= limits.maxConnectionsPerIP {
                return .address(ProtocolError(.rateLimited, "too many connections from this address (limits.max_connections_per_ip)"))
            }
            counts.total += 1
            counts.perIP[ip, default: 0] += 1
            return nil
        }
    }

    func release(ip: String) {
        counts.withLockedValue { counts in
            counts.total -= 1
            let left = counts.perIP[ip, default: 1] - 1
            counts.perIP[ip] = left > 0 ? left : nil
        }
    }

    func admit(user: String) -> ProtocolError? {
        counts.withLockedValue { counts in
            if limits.maxConnectionsPerUser > 0 && counts.perUser[user, default: 0] >= limits.maxConnectionsPerUser {
                return ProtocolError(.rateLimited, "too many connections for this user (limits.max_connections_per_user)")
            }
            counts.perUser[user, default: 0] += 1
            return nil
        }
    }

    func release(user: String) {
        counts.withLockedValue { counts in
            let left = counts.perUser[user, default: 1] - 1
            counts.perUser[user] = left > 0 ? left : nil
        }
    }
}

/// Token buckets by key (user, channel, API key), shared by all loops; idle full buckets are forgotten.
final class KeyedRateLimiter: Sendable {
    private let buckets = NIOLockedValueBox<[String: TokenBucket]>([:])
    private let rate: Int

    /// - Parameter rate: tokens per second per key, burst twice that; 0 allows everything.
    init(rate: Int) { self.rate = rate }

    func allow(_ key: String, now: UInt64 = MonotonicTime.nanoseconds()) -> Bool {
        guard rate > 0 else { return true }
        return buckets.withLockedValue { buckets in
            if buckets.count > 10_000 { buckets = buckets.filter { !$0.value.isFull(now: now) } }
            var bucket = buckets[key] ?? TokenBucket(rate: Double(rate), burst: Double(rate * 2), now: now)
            let allowed = bucket.take(now: now)
            buckets[key] = bucket
            return allowed
        }
    }
}

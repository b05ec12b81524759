/// Which browser origins may open streams and call the API cross-origin (defence against cross-site WebSocket
/// hijacking: a browser sends the page's Origin with every WebSocket upgrade and cross-origin request).
///
/// Same-origin requests and requests without an Origin header (non-browser clients) are always allowed. Development
/// mode also allows any `localhost`, `127.0.0.1` or `[::1]` origin; production allows only the configured list.
/// Entries are exact origins (`https://app.example.com`) or a wildcard subdomain (`https://*.example.com`).
public struct OriginPolicy: Sendable, Equatable {
    public enum Decision: Equatable, Sendable {
        /// No Origin header: not a browser, nothing to check.
        case noOrigin
        case sameOrigin
        /// Allowed from another origin: responses carry `access-control-allow-origin` for it.
        case crossOrigin(String)
        case refused
    }

    public var allowed: [String]
    public var allowLocalhost: Bool

    public init(allowed: [String], allowLocalhost: Bool) {
        self.allowed = allowed.map { $0.lowercased() }
        self.allowLocalhost = allowLocalhost
    }

    /// - Parameters:
    ///   - origin: the request's `Origin` header.
    ///   - host: the request's `Host` header, to recognise same-origin requests.
    public func decide(origin: String?, host: String?) -> Decision {
        guard let origin, !origin.isEmpty else { return .noOrigin }
        let lowered = origin.lowercased()
        if lowered == "null" { return .refused }  // sandboxed frames and file:// pages
        if let host, lowered == "http://\(host.lowercased())" || lowered == "https://\(host.lowercased())" { return .sameOrigin }
        if allowLocalhost && Self.isLocal(lowered) { return .crossOrigin(origin) }
        if allowed.contains(where: { Self.matches(lowered, pattern: $0) }) { return .crossOrigin(origin) }
        return .refused
    }

    static func matches(_ origin: String, pattern: String) -> Bool {
        if pattern == origin { return true }
        guard let star = pattern.range(of: "://*.") else { return false }
        let scheme = pattern[..<star.lowerBound]
        let suffix = pattern[star.upperBound...]
        guard origin.hasPrefix(scheme + "://") else { return false }
        let host = origin.dropFirst(scheme.count + 3)
        return host.hasSuffix("." + suffix) && !host.dropLast(suffix.count + 1).contains("/")
    }

    /// `http(s)://localhost`, `127.0.0.1` or `[::1]`, any port.
    public static func isLocal(_ origin: String) -> Bool {
        for scheme in ["http://", "https://"] where origin.hasPrefix(scheme) {
            let rest = origin.dropFirst(scheme.count)
            for host in ["localhost", "127.0.0.1", "[::1]"] where rest == host || rest.hasPrefix(host + ":") {
                return rest.dropFirst(host.count).allSatisfy { $0 == ":" || $0.isNumber }
            }
        }
        return false
    }
}

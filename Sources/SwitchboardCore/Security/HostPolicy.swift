/// The checks on a request head that come before any origin rule: exactly one well-formed `Host` (RFC 9112 §3.2), at
/// most one `Origin`, and a `Host` naming this server (defence against DNS rebinding: a page on `evil.example` whose
/// name is made to resolve to 127.0.0.1 reaches a local server with `Host: evil.example` and a matching `Origin`, so
/// the same-origin rule alone would let it in).
///
/// The names the server answers to: `localhost`, any `*.localhost` name and any IP literal, always (a rebinding attack
/// needs a DNS name it controls, so an address typed as digits cannot be one, and health checks and a phone on the LAN
/// reach servers by address); and the `server.public_hosts` list (exact names or `*.example.com` for subdomains,
/// compared without port and case). In production an empty list accepts every well-formed name: the operator knows
/// the public names, proxies may rewrite `Host`, and anonymous access is off by default; set the list to check them.
///
/// Pure: the transports pass the raw header values.
public struct HostPolicy: Sendable, Equatable {
    /// Why a head was refused; `misdirected` when the `Host` is well-formed but names another server.
    public struct Refusal: Error, Equatable, Sendable {
        public var reason: String
        public var misdirected: Bool
    }

    /// `server.public_hosts`, lowercased.
    public let publicHosts: [String]
    /// Whether names outside the list are refused: always in development, in production once the list is set.
    public let checksNames: Bool

    /// - Parameters:
    ///   - publicHosts: `server.public_hosts`.
    ///   - development: development mode, which checks names even with an empty list.
    public init(publicHosts: [String], development: Bool) {
        self.publicHosts = publicHosts.map { $0.lowercased() }
        self.checksNames = development || !publicHosts.isEmpty
    }

    /// Checks a request head's `Host` and `Origin` headers.
    /// - Parameters:
    ///   - hosts: every `Host` value of the head (HTTP/2's `:authority` arrives as one).
    ///   - origins: every `Origin` value.
    ///   - requiresHost: HTTP/1.1 and later must name a host; HTTP/1.0 may omit it (then it is not a browser).
    /// - Returns: nil when the head may go on to the origin rule and routing.
    public func check(hosts: [String], origins: [String], requiresHost: Bool) -> Refusal? {
        if hosts.count > 1 { return Refusal(reason: "more than one Host header", misdirected: false) }
        if origins.count > 1 { return Refusal(reason: "more than one Origin header", misdirected: false) }
        guard let host = hosts.first else {
            return requiresHost ? Refusal(reason: "an HTTP/1.1 request needs a Host header", misdirected: false) : nil
        }
        guard let name = Self.hostName(host) else { return Refusal(reason: "malformed Host header", misdirected: false) }
        guard accepts(name: name) else {
            // The name is the client's own: quote a bounded amount of it.
            let quoted = name.count <= 64 ? name : String(name.prefix(64)) + "…"
            return Refusal(
                reason: "this server does not answer to the host \(quoted) (server.public_hosts)", misdirected: true)
        }
        return nil
    }

    /// Whether a host name (lowercased, no port) is one this server answers to.
    public func accepts(name: String) -> Bool {
        if !checksNames || name == "localhost" || name.hasSuffix(".localhost") || Self.isIPLiteral(name) { return true }
        return publicHosts.contains { Self.matches(name, pattern: $0) }
    }

    static func matches(_ name: String, pattern: String) -> Bool {
        if pattern.hasPrefix("*.") { return name.hasSuffix(pattern.dropFirst()) && name.count > pattern.count - 1 }
        return name == pattern
    }

    /// The host part of a `Host` value (`name`, `name:port`, `[v6]:port`), lowercased, without a trailing dot; nil when
    /// the value is not `host[:port]` as RFC 3986 writes it.
    public static func hostName(_ value: String) -> String? {
        var rest = Substring(value.lowercased())
        let name: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            name = rest[rest.startIndex...close]
            guard name.dropFirst().dropLast().allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }), name.count > 2 else { return nil }
            rest = rest[rest.index(after: close)...]
        } else {
            let end = rest.firstIndex(of: ":") ?? rest.endIndex
            name = rest[..<end]
            rest = rest[end...]
            guard !name.isEmpty, name.utf8.allSatisfy(Self.isRegNameByte) else { return nil }
        }
        if !rest.isEmpty {
            let port = rest.dropFirst()
            guard rest.first == ":", port.count <= 5, port.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        }
        var result = String(name)
        if result.hasSuffix("."), result.count > 1 { result.removeLast() }
        return result
    }

    /// RFC 3986 reg-name characters: unreserved and sub-delims (percent-encoding is not expected in a host name).
    private static func isRegNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"): true
        default: false
        }
    }

    /// An IPv4 address in dotted decimal, or a bracketed IPv6 address.
    static func isIPLiteral(_ name: String) -> Bool {
        if name.hasPrefix("[") { return name.hasSuffix("]") }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in part.count >= 1 && part.count <= 3 && part.allSatisfy(\.isNumber) && Int(part)! <= 255 }
    }
}

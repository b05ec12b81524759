import NIOHTTP1
import SwitchboardCore

/// What the first request of a connection asks for, decided from its head alone.
enum RouteDecision {
    /// An ordinary HTTP request: Hummingbird's router answers it.
    case http
    /// Refused before any upgrade, with an HTTP status and a JSON reason.
    case refuse(Refusal)
    /// A WebSocket upgrade that passed every check; `headers` go into the 101 response.
    case webSocket(WebSocketMode, acceptHeaders: [(String, String)], identity: Identity?)
    case sse(SSESessionHandler.Stream)
}

struct Refusal: Error {
    var status: HTTPResponseStatus
    var error: ProtocolError
    var headers: [(String, String)] = []
    var supportedSubprotocols: [String]? = nil
}

/// Decides how the first request of a connection is served: the long-lived endpoints are handed to NIO handlers,
/// everything else goes to the HTTP router. Pure apart from reading the configuration, so every refusal is testable.
struct StreamRoutes {
    let settings: ServerSettings
    let channels: ChannelRules
    let originPolicy: OriginPolicy
    /// The names this server answers to in `Host`, checked before any origin rule (by ``HTTPRequestGuard``).
    let hostPolicy: HostPolicy
    /// New streams are refused while the server drains.
    let drain: DrainState
    /// Who the request's token proved to be (verified before deciding), nil when anonymous.
    var identity: Identity? = nil

    /// The long-lived endpoints, served only on a connection's first request (or an HTTP/2 stream of their own).
    static func isStreamPath(_ uri: String) -> Bool {
        let path = URLParts.split(uri).path
        return path == "/connection/sse" || path == "/connection/websocket" || path.hasPrefix("/raw/sse/") || path.hasPrefix("/raw/ws/")
            || path.hasPrefix("/yjs/")
    }

    func decide(_ head: HTTPRequestHead) -> RouteDecision {
        let (path, query) = URLParts.split(head.uri)
        let isStream = Self.isStreamPath(head.uri)
        if isStream, let refusal = checkOrigin(head) { return .refuse(refusal) }
        if path == "/connection/websocket" {
            return webSocket(head, mode: .protocolV1)
        }
        if path.hasPrefix("/raw/ws/") {
            switch channel(fromPath: path.dropFirst("/raw/ws/".count)) {
            case .failure(let refusal): return .refuse(refusal)
            case .success(let (channel, options)): return webSocket(head, mode: .raw(channel: channel, options: options))
            }
        }
        if path.hasPrefix("/yjs/") {
            switch channel(fromPath: path.dropFirst("/yjs/".count)) {
            case .failure(let refusal): return .refuse(refusal)
            case .success(let (room, options)):
                guard options.yjs else {
                    return .refuse(
                        Refusal(status: .notFound, error: ProtocolError(.unknownNamespace, "\(room) is not in a namespace with yjs: true")))
                }
                // Reading is subscribing (checked above); editing needs what publishing needs.
                let canWrite = Permissions.publish(room, options: options, identity: identity) == nil
                return webSocket(head, mode: .yjs(room: room, options: options, canWrite: canWrite))
            }
        }
        if path == "/testing/echo" && settings.configuration.testing.echoEndpoint {
            return webSocket(head, mode: .echo)
        }
        if path == "/connection/sse" {
            if let refusal = checkStreamRequest(head) { return .refuse(refusal) }
            // No channel is fine: the client subscribes with commands over `POST /connection/{session}/command`.
            let names = query.filter { $0.name == "channel" }.map(\.value)
            let limit = settings.limits.maxSSEChannels
            guard names.count <= limit else {
                return .refuse(Refusal(status: .badRequest, error: ProtocolError(.tooManyChannels, "at most \(limit) channels per stream")))
            }
            var channels: [ChannelName] = []
            for name in names {
                switch channel(named: name) {
                case .failure(let refusal): return .refuse(refusal)
                case .success(let (channel, _)):
                    guard !channels.contains(channel) else {
                        return .refuse(Refusal(status: .badRequest, error: ProtocolError(.badRequest, "channel \(channel) named twice")))
                    }
                    channels.append(channel)
                }
            }
            return .sse(sseStream(channels, head: head, query: query, raw: false))
        }
        if path.hasPrefix("/raw/sse/") {
            if let refusal = checkStreamRequest(head) { return .refuse(refusal) }
            switch channel(fromPath: path.dropFirst("/raw/sse/".count)) {
            case .failure(let refusal): return .refuse(refusal)
            case .success(let (channel, _)): return .sse(sseStream([channel], head: head, query: query, raw: true))
            }
        }
        return .http
    }

    /// Refuses browser pages from origins the policy does not allow (cross-site WebSocket hijacking).
    func checkOrigin(_ head: HTTPRequestHead) -> Refusal? {
        let decision = originPolicy.decide(origin: head.headers.first(name: "origin"), host: head.headers.first(name: "host"))
        guard decision == .refused else { return nil }
        return Refusal(
            status: .forbidden, error: ProtocolError(.originNotAllowed, "origin \(head.headers.first(name: "origin") ?? "") is not allowed"))
    }

    private func allowOrigin(_ head: HTTPRequestHead) -> String? {
        if case .crossOrigin(let origin) = originPolicy.decide(
            origin: head.headers.first(name: "origin"), host: head.headers.first(name: "host"))
        {
            return origin
        }
        return nil
    }

    private func sseStream(_ channels: [ChannelName], head: HTTPRequestHead, query: [URLParts.QueryItem], raw: Bool) -> SSESessionHandler.Stream {
        var stream = sseStreamPositions(channels, head: head, query: query, raw: raw)
        stream.allowOrigin = allowOrigin(head)
        return stream
    }

    private func sseStreamPositions(_ channels: [ChannelName], head: HTTPRequestHead, query: [URLParts.QueryItem], raw: Bool)
        -> SSESessionHandler.Stream
    {
        // Browsers send Last-Event-ID on reconnect; polyfills that cannot set headers pass it as a query parameter.
        let lastEventID = head.headers.first(name: "last-event-id") ?? query.first { $0.name == "lastEventId" }?.value
        guard let lastEventID else {
            return SSESessionHandler.Stream(
                channels: channels, since: Array(repeating: nil, count: channels.count), invalidResume: false, raw: raw, identity: identity
            )
        }
        guard let positions = SSEEventID.decode(lastEventID, channelCount: channels.count) else {
            return SSESessionHandler.Stream(
                channels: channels, since: Array(repeating: nil, count: channels.count), invalidResume: true, raw: raw, identity: identity
            )
        }
        return SSESessionHandler.Stream(channels: channels, since: positions, invalidResume: false, raw: raw, identity: identity)
    }

    private func checkStreamRequest(_ head: HTTPRequestHead) -> Refusal? {
        guard head.method == .GET else {
            return Refusal(status: .methodNotAllowed, error: ProtocolError(.methodNotAllowed, "use GET"), headers: [("allow", "GET")])
        }
        if drain.isDraining {
            return Refusal(
                status: .serviceUnavailable, error: ProtocolError(.shuttingDown, "server is shutting down; retry"), headers: [("retry-after", "1")])
        }
        return nil
    }

    private func webSocket(_ head: HTTPRequestHead, mode: WebSocketMode) -> RouteDecision {
        if let refusal = checkStreamRequest(head) { return .refuse(refusal) }
        // RFC 6455 §4.1: the opening handshake is an HTTP/1.1 request; HTTP/1.0 has no Upgrade mechanism.
        guard head.version.major > 1 || (head.version.major == 1 && head.version.minor >= 1) else {
            return .refuse(Refusal(status: .badRequest, error: ProtocolError(.badRequest, "a WebSocket handshake needs HTTP/1.1")))
        }
        // HTTP/2 has no Upgrade (RFC 9113 §8.6) and extended CONNECT (RFC 8441) is not offered: the one way in is a
        // connection of its own over HTTP/1.1, which is what browsers open when the server does not offer RFC 8441.
        guard head.version.major < 2 else {
            return .refuse(
                Refusal(
                    status: .upgradeRequired,
                    error: ProtocolError(
                        .upgradeRequired, "WebSocket runs over HTTP/1.1 only here (RFC 8441 is not offered): open it on an HTTP/1.1 connection")
                )
            )
        }
        let headers = head.headers
        let upgradeTokens = headers[canonicalForm: "upgrade"].map { $0.lowercased() }
        let connectionTokens = headers[canonicalForm: "connection"].map { $0.lowercased() }
        guard upgradeTokens.contains("websocket"), connectionTokens.contains("upgrade") else {
            return .refuse(
                Refusal(
                    status: .upgradeRequired,
                    error: ProtocolError(.upgradeRequired, "this endpoint speaks WebSocket only: send Upgrade: websocket and Connection: Upgrade"),
                    headers: [("upgrade", "websocket")]
                )
            )
        }
        guard headers.first(name: "sec-websocket-version") == "13" else {
            // RFC 6455 §4.4 names the version to use; RFC 9110 §15.5.22 asks every 426 for an `Upgrade` header.
            return .refuse(
                Refusal(
                    status: .upgradeRequired,
                    error: ProtocolError(.upgradeRequired, "only WebSocket version 13 is supported: send Sec-WebSocket-Version: 13"),
                    headers: [("upgrade", "websocket"), ("sec-websocket-version", "13")]
                )
            )
        }
        guard let key = headers.first(name: "sec-websocket-key"), WebSocketAccept.isValidKey(key) else {
            return .refuse(
                Refusal(
                    status: .badRequest, error: ProtocolError(.badRequest, "missing or malformed Sec-WebSocket-Key: send 16 random bytes in base64")))
        }
        var accept: [(String, String)] = [("sec-websocket-accept", WebSocketAccept.value(forKey: key))]
        if case .protocolV1 = mode {
            let offered = headers[canonicalForm: "sec-websocket-protocol"].map { String($0) }
            if !offered.isEmpty {
                guard let chosen = offered.first(where: { ProtocolVersion.supportedSubprotocols.contains($0) }) else {
                    return .refuse(
                        Refusal(
                            status: .badRequest,
                            error: ProtocolError(
                                .unsupportedSubprotocol,
                                "unsupported subprotocol \(Self.excerpt(offered.joined(separator: ", "))); supported: \(ProtocolVersion.supportedSubprotocols.joined(separator: ", "))"
                            ),
                            supportedSubprotocols: ProtocolVersion.supportedSubprotocols
                        )
                    )
                }
                accept.append(("sec-websocket-protocol", chosen))
            }
        }
        if let extensions = PerMessageDeflate.responseHeader(for: headers, settings: settings) { accept.append(extensions) }
        return .webSocket(mode, acceptHeaders: accept, identity: identity)
    }

    /// What a refusal quotes of a client's header: at most 64 characters, so a huge header is not echoed back.
    static func excerpt(_ text: String, limit: Int = 64) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + "…"
    }

    private func channel(fromPath encoded: Substring) -> Result<(ChannelName, NamespaceOptions), Refusal> {
        guard let name = URLParts.percentDecode(encoded) else {
            return .failure(Refusal(status: .badRequest, error: ProtocolError(.invalidChannel, "channel name is not valid percent-encoding")))
        }
        return channel(named: name)
    }

    private func channel(named name: String) -> Result<(ChannelName, NamespaceOptions), Refusal> {
        let channel: ChannelName
        do {
            channel = try ChannelName(validating: name)
        } catch {
            return .failure(Refusal(status: .badRequest, error: ProtocolError(.invalidChannel, error.reason)))
        }
        switch channels.options(for: channel) {
        case .failure(let error):
            return .failure(Refusal(status: .notFound, error: error))
        case .success(let options):
            if let error = channels.checkSubscribe(channel, identity: identity) {
                return .failure(Refusal(status: error.code == .unauthorized ? .unauthorized : .forbidden, error: error))
            }
            return .success((channel, options))
        }
    }
}

/// Splitting a request target into path and query items.
enum URLParts {
    struct QueryItem {
        var name: String
        var value: String
    }

    static func split(_ uri: String) -> (path: Substring, query: [QueryItem]) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = parts.first ?? ""
        guard parts.count == 2 else { return (path, []) }
        var items: [QueryItem] = []
        for pair in parts[1].split(separator: "&") {
            let nameValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = percentDecode(nameValue[0], plusIsSpace: true) else { continue }
            let value = nameValue.count == 2 ? percentDecode(nameValue[1], plusIsSpace: true) : ""
            guard let value else { continue }
            items.append(QueryItem(name: name, value: value))
        }
        return (path, items)
    }

    /// Decodes `%XX` escapes; nil for malformed escapes or bytes that are not UTF-8.
    static func percentDecode(_ text: Substring, plusIsSpace: Bool = false) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            case UInt8(ascii: "+") where plusIsSpace:
                bytes.append(UInt8(ascii: " "))
            default:
                bytes.append(byte)
            }
        }
        guard UTF8Validation.isValid(bytes) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

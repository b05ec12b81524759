import Hummingbird
import Logging
import NIOCore
import SwitchboardBroker
import SwitchboardClient
import SwitchboardCore

/// No sticky sessions: an SSE or long-poll session lives on the node that opened it, and its address starts with that
/// node's id (``NodeDirectory``). A request for a session of another node — a command, a poll, a close, a refresh —
/// is sent on to that node over HTTP and its answer relayed as it is. When the owner is gone (not in the directory,
/// or its port refuses) the answer is the `404 129` the client already handles by opening a new session and
/// resubscribing from its positions.
struct SessionForwarder: Sendable {
    /// Set on forwarded requests, naming the node that forwarded: a node that gets one for a session it does not hold
    /// answers 508 instead of forwarding again (two nodes with one id or one URL would bounce it forever).
    static let forwardedHeader = HTTPFields.Element.Name("switchboard-forwarded-from")!
    /// Response headers that travel back with a forwarded answer (the body and status always do).
    private static let relayedHeaders: [String] = ["content-type", "cache-control", "retry-after", "www-authenticate"]
    /// Request headers that travel to the owner (a refresh's token is in the body; these carry the rest).
    private static let forwardedRequestHeaders: [HTTPFields.Element.Name] = [.contentType, .authorization, .cookie]

    let directory: (any NodeDirectory)?
    /// Bounds the directory lookup and the whole forwarded exchange (a poll adds its own wait to it).
    let timeout: Duration
    let metrics: ServerMetrics
    let logger: Logger

    /// What session addresses made on this node start with: nothing without a directory (one node).
    var addressPrefix: String { directory.map { $0.nodeID + "-" } ?? "" }

    /// The node holding the session `address`, when it is another one.
    func otherOwner(of address: String) -> String? {
        guard let directory, let dash = address.firstIndex(of: "-") else { return nil }
        let node = String(address[..<dash])
        return node == directory.nodeID ? nil : node
    }

    /// Sends the request on to `node` and relays its answer. `extraWait` lengthens the deadline for a poll that may be
    /// held open that long.
    func forward(_ request: Request, body: ByteBuffer?, to node: String, extraWait: Duration = .zero) async throws -> Response {
        guard let directory else { throw sessionGone() }
        if let from = request.headers[Self.forwardedHeader] {
            metrics.error(.badRequest)
            logger.warning(
                "a forwarded request reached a node that does not hold its session", metadata: ["from": .string(from), "owner": .string(node)])
            throw APIError(
                HTTPResponse.Status(code: 508, reasonPhrase: "Loop Detected"), .badRequest,
                "a forwarded request reached a node that does not hold its session: two nodes share an id or an advertised URL")
        }
        let lookup = await DeadlineBroker.run("node_lookup", timeout: timeout) { try await directory.url(ofNode: node) }
        let url: String?
        switch lookup {
        case .success(let found): url = found
        case .failure(let error):
            let refusal = ProtocolError(engineFailure: error, operation: "node lookup")
            metrics.error(refusal.code)
            throw APIError(refusal)
        }
        guard let url, let target = NodeURL(url) else { throw sessionGone() }
        var forwardedHeaders: [(String, String)] = [(Self.forwardedHeader.rawName, directory.nodeID)]
        for name in Self.forwardedRequestHeaders { for value in request.headers[values: name] { forwardedHeaders.append((name.rawName, value)) } }
        let headers = forwardedHeaders
        let path = request.uri.description
        let method = request.method.rawValue
        let exchange = await DeadlineBroker.run("forward", timeout: timeout + extraWait) {
            let answer = try await HTTPClient.request(method, host: target.host, port: target.port, path: path, headers: headers, body: body)
            // A node killed mid-answer leaves a short body: never relay half an answer as a whole one.
            if let length = answer.head.contentLength, answer.body.readableBytes != length { throw ForwardingError.truncated }
            return answer
        }
        switch exchange {
        case .success(let answer):
            var fields = HTTPFields()
            for name in Self.relayedHeaders {
                if let value = answer.head.header(name), let field = HTTPFields.Element.Name(name) { fields[field] = value }
            }
            return Response(status: HTTPResponse.Status(code: answer.status), headers: fields, body: .init(byteBuffer: answer.body))
        case .failure(let error) where error.kind == .timedOut:
            metrics.error(.engineTimeout)
            var refusal = APIError(.gatewayTimeout, .engineTimeout, "the node holding this session did not answer in time; retry")
            refusal.headers[.retryAfter] = "1"
            throw refusal
        case .failure(let error):
            // Refused, reset or cut short: the owner is gone (killed, stopping); its sessions went with it.
            logger.info("the node holding a session did not answer", metadata: ["owner": .string(node), "error": .string("\(error)")])
            throw sessionGone()
        }
    }

    private func sessionGone() -> APIError {
        metrics.error(.sessionNotFound)
        return APIError(
            .notFound, .sessionNotFound, "no open session with this id (its node is gone); open a new one and resubscribe from your positions")
    }

    private enum ForwardingError: Error { case truncated }
}

/// `http://HOST:PORT` (what `engine.postgres.advertise_url` allows): where forwarded requests go.
struct NodeURL: Equatable, Sendable {
    var host: String
    var port: Int

    init?(_ text: String) {
        guard text.hasPrefix("http://") else { return nil }
        let rest = text.dropFirst("http://".count)
        let authority = rest.hasSuffix("/") ? rest.dropLast() : rest
        guard !authority.isEmpty, !authority.contains("/"), !authority.contains("@"), !authority.contains("?") else { return nil }
        let host: Substring
        let portText: Substring
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            guard after.hasPrefix(":") else { return nil }
            portText = after.dropFirst()
        } else {
            guard let colon = authority.lastIndex(of: ":") else { return nil }
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (1...65535).contains(port) else { return nil }
        self.host = String(host)
        self.port = port
    }

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    var text: String { host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)" }
}

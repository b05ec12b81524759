import SwitchboardCore

/// The client's side of the RFC 6455 opening handshake: what a `101` must carry before the connection counts as a
/// WebSocket (§4.1). A server that did not read the request (a cache, a misconfigured proxy, a plain HTTP server that
/// answers `101` to anything) cannot produce the accept value, so the client fails the connect instead of reading
/// frames from something that is not speaking WebSocket.
public enum WebSocketHandshake {
    /// Why `head` (a `101`) does not complete a handshake that sent `key` and offered `offeredSubprotocols`; nil when it
    /// does. Extensions are not checked here: callers offer them through raw headers and read the answer themselves.
    public static func problem(in head: HTTPResponseHead, key: String, offeredSubprotocols: [String]) -> String? {
        guard tokens(head.combinedHeader("upgrade")).contains("websocket") else { return "the 101 lacks Upgrade: websocket" }
        guard tokens(head.combinedHeader("connection")).contains("upgrade") else { return "the 101 lacks Connection: upgrade" }
        let expected = WebSocketAccept.value(forKey: key)
        let accept = head.header("sec-websocket-accept")
        guard accept == expected else {
            return "Sec-WebSocket-Accept is not the proof of the key sent: expected \(expected), got \(accept ?? "none")"
        }
        if let chosen = head.header("sec-websocket-protocol"), !offeredSubprotocols.contains(chosen) {
            return "the server chose subprotocol \(chosen), which was not offered"
        }
        return nil
    }

    /// The comma-separated tokens of a header, lowercased (`Connection: keep-alive, Upgrade`).
    private static func tokens(_ value: String?) -> [String] {
        (value ?? "").split(separator: ",").map { $0.trimmingWhitespace().lowercased() }
    }
}

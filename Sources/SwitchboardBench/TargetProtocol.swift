/// The URLs and message shapes of a target server: where subscribers connect, how they subscribe, how to publish.
struct TargetProtocol: Sendable {
    var target: BenchOptions.Target
    var host: String
    var port: Int
    var apiKey: String

    /// The WebSocket upgrade request of a subscriber to `channel`; `deflate` offers permessage-deflate.
    func webSocketRequest(channel: String, deflate: Bool = false) -> String {
        let path: String
        var extra = ""
        switch target {
        case .switchboard:
            path = "/connection/websocket"
            extra = "Sec-WebSocket-Protocol: switchboard.v1.json\r\n"
        case .nchan:
            path = "/sub/\(channel)"
        }
        if deflate { extra += BenchDeflate.offerHeader }
        return "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\(extra)\r\n"
    }

    /// The text message a WebSocket subscriber sends after the upgrade, if the target needs one to subscribe.
    /// `since` is empty or a `,"since":{…}` member resuming from a position (reconnect storm).
    func webSocketSubscribeCommand(channel: String, since: String = "") -> String? {
        switch target {
        case .switchboard: subscribeCommand(channel: channel, since: since)
        case .nchan: nil
        }
    }

    /// Switchboard's `subscribe` command, id 1 (WebSocket frame or long-poll command body).
    func subscribeCommand(channel: String, since: String = "") -> String {
        #"{"id":1,"cmd":"subscribe","channel":"\#(channel)"\#(since)}"#
    }

    /// An echo client's `publish` command to its own channel.
    func publishCommand(id: Int, channel: String, data: String) -> String {
        #"{"id":\#(id),"cmd":"publish","channel":"\#(channel)","data":\#(data)}"#
    }

    /// The SSE request of a subscriber to `channel`.
    func sseRequest(channel: String) -> String {
        let path =
            switch target {
            case .switchboard: "/connection/sse?channel=\(channel)"
            case .nchan: "/sub/\(channel)"
            }
        return "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nAccept: text/event-stream\r\n\r\n"
    }

    /// Whether a subscriber counts as subscribed only after its first control message (a subscribe reply or the
    /// SSE `subscribed` push), rather than as soon as the handshake succeeded.
    var subscribeIsConfirmedByMessage: Bool { target == .switchboard }

    /// Path and body of the publish request for one publication.
    func publishRequest(channel: String, data: String) -> (path: String, body: String, headers: [(String, String)]) {
        switch target {
        case .switchboard:
            return (
                "/api/publish", #"{"channel":"\#(channel)","data":\#(data)}"#,
                [("authorization", "apikey \(apiKey)"), ("content-type", "application/json")]
            )
        case .nchan:
            return ("/pub/\(channel)", data, [("content-type", "application/json")])
        }
    }
}

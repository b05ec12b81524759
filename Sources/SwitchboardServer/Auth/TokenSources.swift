import Foundation
import NIOHTTP1

/// Where a connection token may travel with an upgrade or stream request, most private first.
///
/// The `connect` command is preferred for WebSocket (tokens stay out of URLs and logs); these exist for clients that
/// cannot send it: an `Authorization: Bearer` header, a `switchboard_token` cookie, a `Sec-WebSocket-Protocol` entry
/// `switchboard.token.<JWT>` (the only header a browser WebSocket can set), or `?token=` (least safe: URLs end up in
/// logs and history; Switchboard never logs it).
enum TokenSources {
    static let cookieName = "switchboard_token"
    static let subprotocolPrefix = "switchboard.token."

    static func token(in head: HTTPRequestHead) -> String? {
        token(
            authorization: head.headers.first(name: "authorization"), cookieHeaders: head.headers["cookie"],
            subprotocols: head.headers[canonicalForm: "sec-websocket-protocol"].map(String.init),
            query: URLParts.split(head.uri).query)
    }

    static func token(authorization: String?, cookieHeaders: [String], subprotocols: [String] = [], query: [URLParts.QueryItem]) -> String? {
        if let authorization {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { return String(parts[1]) }
        }
        for cookieHeader in cookieHeaders {
            for pair in cookieHeader.split(separator: ";") {
                let nameValue = pair.split(separator: "=", maxSplits: 1)
                if nameValue.count == 2, nameValue[0].trimmingCharacters(in: .whitespaces) == cookieName {
                    return String(nameValue[1]).trimmingCharacters(in: .whitespaces)
                }
            }
        }
        for offered in subprotocols where offered.hasPrefix(subprotocolPrefix) {
            return String(offered.dropFirst(subprotocolPrefix.count))
        }
        return query.first { $0.name == "token" }?.value
    }
}

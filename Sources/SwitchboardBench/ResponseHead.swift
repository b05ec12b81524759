import Foundation
import NIOCore

/// The part of an HTTP response head a subscriber needs: status, whether the body is chunked, and the WebSocket
/// extensions a 101 agreed to.
struct ResponseHead {
    var status: Int
    var chunked: Bool
    /// The `Sec-WebSocket-Extensions` values, comma-joined; nil when the head has none.
    var webSocketExtensions: String? = nil

    /// Reads a complete head off the front of `buffer` (consuming it), or returns nil when it is not complete yet.
    static func read(from buffer: inout ByteBuffer) -> ResponseHead? {
        let view = buffer.readableBytesView
        guard let end = view.firstRange(of: [13, 10, 13, 10]) else { return nil }
        let length = end.upperBound - view.startIndex
        let text = buffer.readString(length: length) ?? ""
        let statusLine = text.prefix { $0 != "\r" }
        let parts = statusLine.split(separator: " ")
        let status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        let lowered = text.lowercased()
        let chunked = lowered.contains("transfer-encoding: chunked")
        return ResponseHead(status: status, chunked: chunked, webSocketExtensions: webSocketExtensions(in: text, lowered: lowered))
    }

    private static func webSocketExtensions(in text: String, lowered: String) -> String? {
        guard lowered.contains("sec-websocket-extensions:") else { return nil }
        let values = text.split(separator: "\r\n").compactMap { line -> String? in
            guard line.lowercased().hasPrefix("sec-websocket-extensions:") else { return nil }
            return line.dropFirst("sec-websocket-extensions:".count).trimmingCharacters(in: .whitespaces)
        }
        return values.isEmpty ? nil : values.joined(separator: ", ")
    }
}

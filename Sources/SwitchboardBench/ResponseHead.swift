import NIOCore

/// The part of an HTTP response head a subscriber needs: status and whether the body is chunked.
struct ResponseHead {
    var status: Int
    var chunked: Bool

    /// Reads a complete head off the front of `buffer` (consuming it), or returns nil when it is not complete yet.
    static func read(from buffer: inout ByteBuffer) -> ResponseHead? {
        let view = buffer.readableBytesView
        guard let end = view.firstRange(of: [13, 10, 13, 10]) else { return nil }
        let length = end.upperBound - view.startIndex
        let text = buffer.readString(length: length) ?? ""
        let statusLine = text.prefix { $0 != "\r" }
        let parts = statusLine.split(separator: " ")
        let status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        let chunked = text.lowercased().contains("transfer-encoding: chunked")
        return ResponseHead(status: status, chunked: chunked)
    }
}

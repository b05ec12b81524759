package import NIOCore

/// The status and headers of an HTTP/1.1 response, parsed from raw bytes.
public struct HTTPResponseHead: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]

    public init(status: Int, headers: [(name: String, value: String)]) {
        self.status = status
        self.headers = headers
    }

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Every value of header `name` joined by ", ", as a repeated header reads (RFC 9110 section 5.3); nil when absent.
    public func combinedHeader(_ name: String) -> String? {
        let values = headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
        return values.isEmpty ? nil : values.joined(separator: ", ")
    }

    /// The body length announced by `content-length`, if it is a number.
    public var contentLength: Int? { header("content-length").flatMap(Int.init) }

    /// Whether the body is chunked: `chunked` is the last transfer coding (RFC 9112 section 6.1).
    public var isChunked: Bool { header("transfer-encoding")?.lowercased().hasSuffix("chunked") == true }

    /// Parses the head (without the blank line that ends it); nil when it is not an HTTP/1.x response head.
    public static func parse(_ text: String) -> HTTPResponseHead? {
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty else { return nil }
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else { return nil }
        var headers: [(String, String)] = []
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingWhitespace()))
        }
        return HTTPResponseHead(status: status, headers: headers)
    }

    /// Reads a head from `reader`.
    public static func read(from reader: inout ByteReader) async -> HTTPResponseHead? {
        guard let bytes = await reader.read(until: "\r\n\r\n") else { return nil }
        return parse(String(decoding: bytes.readableBytesView, as: UTF8.self))
    }

    /// Takes a complete head and the blank line after it off the front of `buffer`; nil, consuming nothing, while the
    /// blank line has not arrived. For clients that frame their own bytes on an event loop (the bench).
    package static func read(from buffer: inout ByteBuffer) throws(HTTPRefusal) -> HTTPResponseHead? {
        let view = buffer.readableBytesView
        guard let end = view.firstRange(of: [13, 10, 13, 10]) else { return nil }
        let text = buffer.readString(length: end.lowerBound - view.startIndex) ?? ""
        buffer.moveReaderIndex(forwardBy: 4)
        guard let head = parse(text) else { throw HTTPRefusal(status: 0, body: "malformed response head: \(text.prefix(80))") }
        return head
    }
}

/// An HTTP exchange that did not go as the client needed, with what the server said.
public struct HTTPRefusal: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var body: String
    public var head: HTTPResponseHead?

    public init(status: Int, body: String, head: HTTPResponseHead? = nil) {
        self.status = status
        self.body = body
        self.head = head
    }

    public var description: String { "HTTP \(status): \(body)" }
}

extension Substring {
    func trimmingWhitespace() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}

import NIOCore

/// The status and headers of an HTTP/1.1 response, parsed from raw bytes.
public struct HTTPResponseHead: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Parses the head (without the blank line that ends it).
    static func parse(_ text: String) -> HTTPResponseHead? {
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

import NIOCore

/// One Server-Sent Event.
public struct SSEEvent: Sendable, Equatable {
    public var id: String?
    public var event: String?
    public var data: String
}

/// A Server-Sent Events client that parses the stream like a browser's EventSource (without reconnecting: the caller
/// decides, passing ``lastEventID`` back as `Last-Event-ID`).
public final class SSEClient {
    public let connection: ByteConnection
    public let head: HTTPResponseHead
    private var reader: ByteReader
    /// The browser's "last event ID": updated by every `id:` field, even of events without data.
    public private(set) var lastEventID: String?
    /// The `retry:` the server asked for, in milliseconds.
    public private(set) var retry: Int?
    /// Comment lines seen (heartbeats).
    public private(set) var comments = 0

    init(connection: ByteConnection, head: HTTPResponseHead, reader: ByteReader) {
        self.connection = connection
        self.head = head
        self.reader = reader
    }

    /// Opens the stream; throws ``HTTPRefusal`` with the server's status and body when it does not answer 200.
    public static func connect(
        host: String, port: Int, path: String, lastEventID: String? = nil, headers: [(String, String)] = [], tls: ClientTLS? = nil
    ) async throws -> SSEClient {
        let connection = try await ByteConnection.connect(host: host, port: port, tls: tls)
        var reader = connection.reader()
        var request = "GET \(path) HTTP/1.1\r\nhost: \(host):\(port)\r\naccept: text/event-stream\r\n"
        if let lastEventID { request += "last-event-id: \(lastEventID)\r\n" }
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        try await connection.write(request)
        guard let head = await HTTPResponseHead.read(from: &reader) else {
            await connection.close()
            throw HTTPRefusal(status: 0, body: "connection closed before a response")
        }
        guard head.status == 200 else {
            let length = head.contentLength ?? 0
            let body = await reader.read(exactly: length) ?? ByteBuffer()
            await connection.close()
            throw HTTPRefusal(status: head.status, body: String(decoding: body.readableBytesView, as: UTF8.self), head: head)
        }
        return SSEClient(connection: connection, head: head, reader: reader)
    }

    /// The next dispatched event (one with data); nil when the stream ends.
    public func next() async -> SSEEvent? {
        var data: [String] = []
        var event: String?
        var id: String?
        while let lineBytes = await reader.read(until: "\n") {
            var line = String(decoding: lineBytes.readableBytesView, as: UTF8.self)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.isEmpty {
                if let id { lastEventID = id }
                if !data.isEmpty { return SSEEvent(id: id ?? lastEventID, event: event, data: data.joined(separator: "\n")) }
                event = nil
                id = nil
                continue
            }
            if line.hasPrefix(":") {
                comments += 1
                continue
            }
            let field: Substring
            var value: Substring
            if let colon = line.firstIndex(of: ":") {
                field = line[..<colon]
                value = line[line.index(after: colon)...]
                if value.hasPrefix(" ") { value = value.dropFirst() }
            } else {
                field = line[...]
                value = ""
            }
            switch field {
            case "data": data.append(String(value))
            case "event": event = String(value)
            case "id": id = String(value)
            case "retry": retry = Int(value)
            default: break
            }
        }
        return nil
    }

    /// Reads until the next comment line (a heartbeat), skipping events; false when the stream ends first.
    public func nextComment() async -> Bool {
        while let lineBytes = await reader.read(until: "\n") {
            if lineBytes.readableBytesView.first == UInt8(ascii: ":") {
                comments += 1
                return true
            }
        }
        return false
    }

    public func close() async {
        await connection.close()
    }
}

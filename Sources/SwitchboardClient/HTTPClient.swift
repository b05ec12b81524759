public import NIOCore

/// A minimal HTTP/1.1 client: one request per connection (`connection: close`), the whole response read.
public enum HTTPClient {
    public struct Response: Sendable {
        public var status: Int
        public var head: HTTPResponseHead
        public var body: ByteBuffer
        public var bodyText: String { String(decoding: body.readableBytesView, as: UTF8.self) }
    }

    public static func request(
        _ method: String, host: String, port: Int, path: String, headers: [(String, String)] = [], body: ByteBuffer? = nil,
        tls: ClientTLS? = nil
    ) async throws -> Response {
        let connection = try await ByteConnection.connect(host: host, port: port, tls: tls)
        var reader = connection.reader()
        var request = "\(method) \(path) HTTP/1.1\r\nhost: \(host):\(port)\r\nconnection: close\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        if let body { request += "content-length: \(body.readableBytes)\r\n" }
        request += "\r\n"
        var bytes = ByteBuffer(string: request)
        if var body { bytes.writeBuffer(&body) }
        try await connection.write(bytes)
        defer { Task { await connection.close() } }
        guard let head = await HTTPResponseHead.read(from: &reader) else {
            throw HTTPRefusal(status: 0, body: "connection closed before a response")
        }
        var payload: ByteBuffer
        if let length = head.contentLength {
            payload = await reader.read(exactly: length) ?? ByteBuffer()
        } else if head.isChunked {
            payload = await readChunked(&reader)
        } else {
            payload = await reader.readToEnd()
        }
        return Response(status: head.status, head: head, body: payload)
    }

    private static func readChunked(_ reader: inout ByteReader) async -> ByteBuffer {
        var body = ByteBuffer()
        while let sizeLine = await reader.read(until: "\r\n") {
            let text = String(decoding: sizeLine.readableBytesView, as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(text.trimmingWhitespace(), radix: 16) else { break }
            if size == 0 {
                _ = await reader.read(until: "\r\n")
                break
            }
            guard var chunk = await reader.read(exactly: size) else { break }
            body.writeBuffer(&chunk)
            _ = await reader.read(until: "\r\n")
        }
        return body
    }
}

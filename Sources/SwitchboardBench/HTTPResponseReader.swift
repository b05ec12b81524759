import NIOCore

/// Splits the bytes of a keep-alive HTTP/1.1 connection into complete responses (status and body).
///
/// Only `content-length` bodies: Switchboard's HTTP endpoints answer with a known length, and a bench client that
/// meets anything else should fail loudly rather than guess where a response ends.
struct HTTPResponseReader {
    struct Response {
        var status: Int
        var body: ByteBuffer
    }

    enum Failure: Error, CustomStringConvertible {
        case unsupportedFraming(String)
        var description: String {
            switch self {
            case .unsupportedFraming(let head): "response without content-length: \(head.prefix(80))"
            }
        }
    }

    private var pending = ByteBuffer()
    private var head: (status: Int, length: Int)?

    mutating func append(_ incoming: inout ByteBuffer) {
        if pending.readableBytes == 0 {
            pending = incoming
        } else {
            pending.writeBuffer(&incoming)
        }
    }

    /// The next complete response, or nil while more bytes are needed.
    mutating func next() throws -> Response? {
        if head == nil {
            let view = pending.readableBytesView
            guard let end = view.firstRange(of: [13, 10, 13, 10]) else { return nil }
            let text = pending.readString(length: end.upperBound - view.startIndex) ?? ""
            let status = Int(text.split(separator: " ", maxSplits: 2).dropFirst().first ?? "") ?? 0
            guard let length = Self.contentLength(in: text) else { throw Failure.unsupportedFraming(text) }
            head = (status, length)
        }
        guard let complete = head, let body = pending.readSlice(length: complete.length) else { return nil }
        head = nil
        if pending.readableBytes == 0 { pending.clear() }
        return Response(status: complete.status, body: body)
    }

    private static func contentLength(in head: String) -> Int? {
        for line in head.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == "content-length" else { continue }
            return Int(line[line.index(after: colon)...].trimmingPrefix(" "))
        }
        return nil
    }
}

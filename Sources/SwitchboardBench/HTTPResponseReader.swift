import NIOCore
import SwitchboardClient

/// Splits the bytes of a keep-alive HTTP/1.1 connection into complete responses (status and body); heads are read by
/// SwitchboardClient's ``HTTPResponseHead``.
///
/// Only `content-length` bodies: Switchboard's HTTP endpoints answer with a known length, and a bench client that
/// meets anything else should fail loudly rather than guess where a response ends.
struct HTTPResponseReader {
    struct Response {
        var status: Int
        var body: ByteBuffer
    }

    enum Failure: Error, CustomStringConvertible {
        case unsupportedFraming(status: Int)
        var description: String {
            switch self {
            case .unsupportedFraming(let status): "HTTP \(status) response without content-length"
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
            guard let parsed = try HTTPResponseHead.read(from: &pending) else { return nil }
            guard let length = parsed.contentLength else { throw Failure.unsupportedFraming(status: parsed.status) }
            head = (parsed.status, length)
        }
        guard let complete = head, let body = pending.readSlice(length: complete.length) else { return nil }
        head = nil
        if pending.readableBytes == 0 { pending.clear() }
        return Response(status: complete.status, body: body)
    }
}

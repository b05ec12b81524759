import CompressNIO
import NIOCore
import SwitchboardCore

/// The bench's side of permessage-deflate (RFC 7692), `--deflate`: what its WebSocket subscribers offer, what they
/// require of the answer, and how they inflate what the server compressed. Their own frames stay uncompressed.
enum BenchDeflate {
    /// The offer: the server starts every message with a fresh context, so one inflater reset per message reads
    /// them all; the client promises the same (it never compresses anyway).
    static let offerHeader =
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"

    /// Why the 101 response `extensions` (its `Sec-WebSocket-Extensions` value, nil when absent) does not agree to
    /// the offer, or nil when it does.
    static func refusal(ofResponseExtensions extensions: String?) -> String? {
        guard let extensions else { return "101 without permessage-deflate (--deflate asked for it)" }
        guard let agreement = PerMessageDeflateNegotiation.agreement(fromResponse: extensions) else {
            return "101 with an unreadable permessage-deflate answer (--deflate asked for it)"
        }
        // Without it the server may refer back to earlier messages, which a fresh context per message cannot read.
        guard agreement.serverNoContextTakeover else { return "101 with permessage-deflate but without server_no_context_takeover" }
        return nil
    }
}

/// Inflates whole permessage-deflate messages, a fresh context for each (`server_no_context_takeover`), so one
/// inflater serves every connection of an event loop. Not thread-safe: one per loop.
final class PerMessageInflater {
    enum InflateError: Error, CustomStringConvertible {
        case corrupt
        case tooLarge

        var description: String {
            switch self {
            case .corrupt: "inflate: not a valid deflate stream"
            case .tooLarge: "inflate: message larger than \(PerMessageInflater.limit) bytes"
            }
        }
    }

    /// The 4 bytes a sync flush ends with; the sender drops them from each message and the receiver puts them back
    /// (RFC 7692 section 7.2.2).
    static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]
    /// A bench message is at most a few KB; this only stops a broken stream from filling memory.
    static let limit = 16 * 1024 * 1024

    private let decompressor: ZlibDecompressor
    /// Reused for every message: the caller drops the returned buffer before the next call, so it never copies.
    private var output: ByteBuffer
    private var tailBuffer: ByteBuffer

    init(allocator: ByteBufferAllocator = ByteBufferAllocator()) throws {
        // A 15-bit window reads streams made with any smaller one.
        decompressor = try ZlibDecompressor(algorithm: .deflate, windowSize: 15)
        output = allocator.buffer(capacity: 4096)
        tailBuffer = allocator.buffer(bytes: Self.tail)
    }

    /// The inflated bytes of one message whose compressed payload (all its frames, tail not included) is
    /// `compressed`. Valid until the next call.
    func inflate(_ compressed: ByteBuffer) throws(InflateError) -> ByteBuffer {
        output.clear()
        defer { try? decompressor.reset() }
        var input = compressed
        var tail = tailBuffer
        do {
            if input.readableBytes > 0 { try feed(&input) }
            try feed(&tail)
        } catch let error as InflateError {
            throw error
        } catch {
            throw .corrupt
        }
        return output
    }

    private func feed(_ input: inout ByteBuffer) throws {
        while true {
            if output.writableBytes == 0 {
                guard output.readableBytes < Self.limit else { throw InflateError.tooLarge }
                output.reserveCapacity(minimumWritableBytes: max(4096, output.readableBytes))
            }
            do {
                try decompressor.inflate(from: &input, to: &output)
                if input.readableBytes == 0 { return }
                // Z_STREAM_END with input left: a block with BFINAL set ended the stream; what follows starts anew.
                try decompressor.reset()
            } catch let error as CompressNIOError where error == .bufferOverflow {
                continue  // output full: grow it and go on
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                return  // every input byte taken, nothing more to write
            }
        }
    }
}

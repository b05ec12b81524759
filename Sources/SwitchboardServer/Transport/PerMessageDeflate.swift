import CompressNIO
import NIOCore
import NIOHTTP1
import NIOPosix
import SwitchboardCore

/// permessage-deflate (RFC 7692) message codecs on zlib: raw deflate, sync flush, and the `00 00 FF FF` tail that
/// every compressed message drops on the wire and the receiver puts back.
///
/// Memory is why the state lives where it does: zlib keeps ~256 KB per compressor and ~40 KB per inflater. The server
/// never takes over its compression context (it always agrees `server_no_context_takeover`), so one compressor per
/// event loop and window size serves every connection of the loop. The inflater is per connection only when the client
/// keeps its context; with `client_no_context_takeover` one inflater per loop is reset after every message.
enum PerMessageDeflate {
    /// The 4 bytes a sync flush ends with; RFC 7692 section 7.2.1 removes them from each message.
    static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    static let headerName = "sec-websocket-extensions"

    /// The `Sec-WebSocket-Extensions` response header for an upgrade request, nil when nothing is agreed.
    static func responseHeader(for requestHeaders: HTTPHeaders, settings: ServerSettings) -> (String, String)? {
        guard settings.configuration.webSocket.compression else { return nil }
        let offers = requestHeaders[canonicalForm: headerName].map { String($0) }
        guard let agreement = PerMessageDeflateNegotiation.negotiate(offers: offers) else { return nil }
        return (headerName, agreement.responseHeaderValue)
    }

    /// The agreement the 101 response announced, read back from its headers: the route decision carries headers
    /// only, and that keeps the upgrade hook to one line.
    static func agreement(in responseHeaders: [(String, String)]) -> PerMessageDeflateAgreement? {
        guard let value = responseHeaders.first(where: { $0.0 == headerName })?.1 else { return nil }
        return PerMessageDeflateNegotiation.agreement(fromResponse: value)
    }

    enum InflateError: Error, Equatable {
        /// The inflated message exceeds the limit (close 1009): a small compressed frame can expand a thousandfold.
        case tooLarge
        /// Not a valid deflate stream (close 1007).
        case corrupt
    }
}

/// Compresses whole messages with a fresh context each (`server_no_context_takeover`).
///
/// It also remembers the last message it compressed: a broadcast reaches every connection of the loop with the same
/// buffer, so the loop compresses it once and each connection shares the result (encode once).
final class MessageDeflater {
    private let compressor: ZlibCompressor
    private var lastInput: ByteBuffer?
    private var lastOutput: ByteBuffer?

    init(windowBits: Int) throws {
        // memLevel 8 is zlib's default; the window is what the client agreed to read.
        compressor = try ZlibCompressor(
            algorithm: .deflate, configuration: ZlibConfiguration(windowSize: Int32(windowBits), compressionLevel: -1, memoryLevel: 8))
    }

    /// The payload of one compressed message: deflate blocks ending in a sync flush, without the `00 00 FF FF` tail.
    /// - Parameter reusingLast: false compresses again even when `message` is the buffer compressed last (the
    ///   per-connection way, kept only to measure what sharing saves).
    func compress(_ message: ByteBuffer, allocator: ByteBufferAllocator, reusingLast: Bool = true) throws -> ByteBuffer {
        if reusingLast, let lastInput, let lastOutput, Self.isSameStorage(lastInput, message) { return lastOutput }
        // An empty message compresses to a single empty stored block's first byte (RFC 7692 section 7.2.3.6).
        guard message.readableBytes > 0 else { return allocator.buffer(bytes: [0x00]) }
        try compressor.reset()
        var input = message
        var output = allocator.buffer(capacity: compressor.maxSize(from: message))
        try compressor.deflate(from: &input, to: &output, flush: .sync)
        // maxSize covers the whole sync-flushed output; a full buffer would mean zlib held some back.
        while input.readableBytes > 0 || output.writableBytes == 0 {
            output.reserveCapacity(minimumWritableBytes: 1024)
            if input.readableBytes > 0 {
                try compressor.deflate(from: &input, to: &output, flush: .sync)
            } else {
                var empty = allocator.buffer(capacity: 1)
                empty.writeInteger(UInt8(0))
                empty.moveReaderIndex(forwardBy: 1)
                try compressor.deflate(from: &empty, to: &output, flush: .sync)
                if output.writableBytes > 0 { break }
            }
        }
        if output.readableBytes >= 4, output.getBytes(at: output.writerIndex - 4, length: 4) == PerMessageDeflate.tail {
            output.moveWriterIndex(to: output.writerIndex - 4)
        }
        lastInput = message
        lastOutput = output
        return output
    }

    /// Same bytes of the same storage: cheap, and sound because `lastInput` keeps that storage alive.
    private static func isSameStorage(_ a: ByteBuffer, _ b: ByteBuffer) -> Bool {
        guard a.readableBytes == b.readableBytes else { return false }
        let pa = a.withUnsafeReadableBytes { UnsafeRawPointer($0.baseAddress) }
        let pb = b.withUnsafeReadableBytes { UnsafeRawPointer($0.baseAddress) }
        return pa != nil && pa == pb
    }
}

/// Inflates whole messages, with the inflated size capped while it grows.
final class MessageInflater {
    private let decompressor: ZlibDecompressor
    /// Whether the window carries over to the next message (client context takeover).
    private let keepsContext: Bool
    private static let chunk = 16 * 1024

    init(keepsContext: Bool) throws {
        // A 15-bit window reads streams made with any smaller one, so it serves every client_max_window_bits.
        decompressor = try ZlibDecompressor(algorithm: .deflate, windowSize: 15)
        self.keepsContext = keepsContext
    }

    /// Inflates one message's payload (the compressed bytes of all its frames, tail not included).
    func inflate(_ compressed: ByteBuffer, limit: Int, allocator: ByteBufferAllocator) throws(PerMessageDeflate.InflateError) -> ByteBuffer {
        var output = allocator.buffer(capacity: min(limit + 1, max(Self.chunk, compressed.readableBytes * 4)))
        do {
            defer { if !keepsContext { try? decompressor.reset() } }
            var input = compressed
            if input.readableBytes > 0 { try feed(&input, into: &output, limit: limit) }
            var tail = allocator.buffer(bytes: PerMessageDeflate.tail)
            try feed(&tail, into: &output, limit: limit)
        } catch let error as PerMessageDeflate.InflateError {
            if keepsContext { try? decompressor.reset() }
            throw error
        } catch {
            throw .corrupt
        }
        return output
    }

    private func feed(_ input: inout ByteBuffer, into output: inout ByteBuffer, limit: Int) throws {
        while true {
            // Room for at most limit + 1 bytes: one byte over the limit proves the message is too large.
            let room = limit + 1 - output.readableBytes
            guard room > 0 else { throw PerMessageDeflate.InflateError.tooLarge }
            if output.writableBytes == 0 { output.reserveCapacity(minimumWritableBytes: min(room, max(Self.chunk, output.readableBytes))) }
            do {
                try decompressor.inflate(from: &input, to: &output)
                if output.readableBytes > limit { throw PerMessageDeflate.InflateError.tooLarge }
                // All input taken with room to spare, or Z_STREAM_END: the sender ended a block with BFINAL set, and
                // what follows starts a new deflate stream.
                if input.readableBytes == 0 { return }
                try decompressor.reset()
            } catch let error as CompressNIOError where error == .bufferOverflow {
                continue
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                if output.readableBytes > limit { throw PerMessageDeflate.InflateError.tooLarge }
                return
            } catch let error as CompressNIOError where error == .corruptData {
                throw PerMessageDeflate.InflateError.corrupt
            }
        }
    }
}

/// The codecs one event loop shares between its connections (see ``PerMessageDeflate``).
final class DeflateLoopCodecs {
    private var deflaters: [Int: MessageDeflater] = [:]
    private var sharedInflater: MessageInflater?

    /// The loop's compressor for `windowBits` (9…15), made on first use.
    func deflater(windowBits: Int) throws -> MessageDeflater {
        if let deflater = deflaters[windowBits] { return deflater }
        let deflater = try MessageDeflater(windowBits: windowBits)
        deflaters[windowBits] = deflater
        return deflater
    }

    /// The loop's inflater for clients without context takeover; reset after every message.
    func inflater() throws -> MessageInflater {
        if let sharedInflater { return sharedInflater }
        let inflater = try MessageInflater(keepsContext: false)
        sharedInflater = inflater
        return inflater
    }

    /// The codecs of the calling thread: an event loop is one thread, so this is per loop without a lock.
    static var current: DeflateLoopCodecs {
        if let codecs = storage.currentValue { return codecs }
        let codecs = DeflateLoopCodecs()
        storage.currentValue = codecs
        return codecs
    }

    // Thread-local by construction: each thread only ever sees its own value.
    nonisolated(unsafe) private static let storage = ThreadSpecificVariable<DeflateLoopCodecs>()
}

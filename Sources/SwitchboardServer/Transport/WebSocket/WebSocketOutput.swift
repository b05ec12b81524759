import NIOCore
import SwitchboardCore

/// Turns one WebSocket connection's outgoing messages into frames for its ``OutboundPipe``: whole, compressed, or one
/// loop tick's messages batched into a single frame.
///
/// A publication's frame, built once and shared by every subscriber, goes out as it is unless this connection
/// compresses or batches it. Nothing here flushes on its own (see ``OutboundPipe``).
final class WebSocketOutput {
    let pipe: OutboundPipe
    /// `switchboard.v1.msgpack`: messages leave in binary frames, and a batch's values back to back.
    let messagePack: Bool
    /// Batching (the client asked with `connect`'s `batch`): the messages of one loop tick leave as one frame.
    var batching = false
    /// A batch frame is closed once it reaches this size; the next message starts a new one.
    static let maxBatchBytes = 64 * 1024
    /// The heartbeat's ping frame, the same bytes for every connection.
    static let pingFrame = WebSocketFraming.frame(ByteBuffer(string: "sb"), opcode: .ping)

    private let metrics: ServerMetrics
    /// `websocket.compression_min_bytes`: smaller messages go out uncompressed.
    private let compressionMinBytes: Int
    /// `testing.deflate_per_connection` off: a payload compressed for one connection is reused by the next.
    private let reusesCompressedPayloads: Bool
    private let deflate: PerMessageDeflateAgreement?
    /// The event loop's shared compressor and inflater, when permessage-deflate was agreed.
    private(set) var loopCodecs: DeflateLoopCodecs?
    private var allocator = ByteBufferAllocator()
    private var batch: [ByteBuffer] = []
    private var batchBytes = 0

    init(settings: ServerSettings, metrics: ServerMetrics, deflate: PerMessageDeflateAgreement?, messagePack: Bool) {
        self.metrics = metrics
        self.compressionMinBytes = settings.configuration.webSocket.compressionMinBytes
        self.reusesCompressedPayloads = !settings.configuration.testing.deflatePerConnection
        self.deflate = deflate
        self.messagePack = messagePack
        self.pipe = OutboundPipe(
            maxBytes: settings.limits.outboundQueueBytes,
            maxMessages: settings.limits.outboundQueueMessages,
            metrics: metrics
        )
    }

    /// Binds to the connection's channel, on its event loop.
    func attach(to context: ChannelHandlerContext) {
        pipe.socketWritable = context.channel.isWritable
        allocator = context.channel.allocator
        if deflate != nil { loopCodecs = DeflateLoopCodecs.current }
    }

    var messageOpcode: WebSocketFraming.Opcode { messagePack ? .binary : .text }

    /// Writes one message: into this tick's batch while the socket keeps up, else as its own frame (a waiting frame
    /// can still be conflated or overtaken by priority). False when the outbound queue is full.
    /// - Parameter frame: `payload` already framed and shared with other connections, sent as it is unless compressed.
    @inline(__always)
    func emit(_ payload: ByteBuffer, frame: ByteBuffer?, tag: @autoclosure () -> QueueTag?, context: ChannelHandlerContext) -> Bool {
        if batching && pipe.isEmpty && pipe.socketWritable {
            if batchBytes + payload.readableBytes > Self.maxBatchBytes, !writeBatch(context: context) { return false }
            batch.append(payload)
            batchBytes += payload.readableBytes + 1
            return true
        }
        // Whatever is batched goes first, so order is kept when the socket stops keeping up mid-tick.
        if !batch.isEmpty, !writeBatch(context: context) { return false }
        let shared = compresses(payload) ? nil : frame
        return pipe.write(shared ?? dataFrame(payload, opcode: messageOpcode), size: payload.readableBytes, context: context, tag: tag())
    }

    /// Sends this tick's batch as one frame: JSON messages separated by a newline (minified JSON has none inside),
    /// MessagePack values back to back (each is self-delimiting). A batch of one is sent as it is, without a copy.
    func writeBatch(context: ChannelHandlerContext) -> Bool {
        guard !batch.isEmpty else { return true }
        defer {
            batch.removeAll(keepingCapacity: true)
            batchBytes = 0
        }
        var payload = batch[0]
        if batch.count > 1 {
            payload = allocator.buffer(capacity: batchBytes)
            for (index, var part) in batch.enumerated() {
                if index > 0 && !messagePack { payload.writeInteger(UInt8(ascii: "\n")) }
                payload.writeBuffer(&part)
            }
            metrics.batchedMessages.increment(by: Int64(batch.count))
        }
        return pipe.write(dataFrame(payload, opcode: messageOpcode), size: payload.readableBytes, context: context)
    }

    /// Writes the batch and flushes the tick; false when the batch overflowed the queue.
    func flush(context: ChannelHandlerContext) -> Bool {
        guard writeBatch(context: context) else { return false }
        pipe.flush(context: context)
        return true
    }

    /// Closing on purpose: this tick's messages are still handed to NIO (an error reply written just before a
    /// disconnect reaches the peer); what waits for a slow socket is dropped.
    func discardQueue(context: ChannelHandlerContext) {
        _ = writeBatch(context: context)
        pipe.discardQueue(context: context)
    }

    /// The connection is gone: drops everything.
    func discard() {
        batch.removeAll()
        batchBytes = 0
        pipe.discard()
    }

    /// Whether deflate was agreed and the message is worth compressing.
    func compresses(_ payload: ByteBuffer) -> Bool {
        deflate != nil && payload.readableBytes >= compressionMinBytes
    }

    /// One unfragmented data frame, compressed when ``compresses(_:)`` says so.
    ///
    /// A compression failure (zlib out of memory) sends the message uncompressed: RSV1 is per message.
    func dataFrame(_ payload: ByteBuffer, opcode: WebSocketFraming.Opcode) -> ByteBuffer {
        if compresses(payload), let deflate, let loopCodecs,
            let compressed = try? loopCodecs.deflater(windowBits: deflate.compressorWindowBits).compress(
                payload, allocator: allocator, reusingLast: reusesCompressedPayloads)
        {
            return WebSocketFraming.frame(compressed, opcode: opcode, compressed: true, allocator: allocator)
        }
        return WebSocketFraming.frame(payload, opcode: opcode, allocator: allocator)
    }
}

@available(*, unavailable) extension WebSocketOutput: Sendable {}

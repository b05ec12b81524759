import NIOCore
import SwitchboardCore

/// The write side of a long-lived connection: wire bytes go to the socket while it is writable, pile up in a bounded
/// ``OutboundQueue`` while it is not, and overflowing that queue is reported so the slow-consumer policy can apply.
///
/// Nothing here flushes on its own: callers write during a loop tick and the loop hub flushes once at its end. The
/// messages of one tick also leave as **one NIO write**: the first is kept as it is (usually a publication's frame
/// shared by every subscriber), later ones are copied behind it. A NIO write walks the pipeline and touches half a
/// dozen objects per socket — the dominant cost per delivery once thousands of sockets share a burst — while
/// copying a few hundred bytes is not.
final class OutboundPipe {
    private var queue: OutboundQueue<ByteBuffer>
    /// Bytes handed to NIO (written, not flushed) since the last flush.
    private var wroteSinceFlush = false
    /// This tick's messages not yet handed to NIO.
    private var tickBytes: ByteBuffer?
    /// Whether `tickBytes` is still the first message's own (shared) buffer, which must not be written into.
    private var tickBytesShared = false
    private let metrics: ServerMetrics
    /// A tick's bytes are handed to NIO once they reach this size, so NIO's watermarks see a burst as it grows.
    private let maxTickBytes: Int

    init(maxBytes: Int, maxMessages: Int, metrics: ServerMetrics, maxTickBytes: Int = 16 * 1024) {
        self.queue = OutboundQueue(maxBytes: maxBytes, maxMessages: maxMessages)
        self.metrics = metrics
        self.maxTickBytes = maxTickBytes
    }

    /// Makes the message announcing that a channel's next publication follows a conflation gap (nil: nothing to
    /// announce, e.g. on raw endpoints).
    var gapNotice: ((ChannelName) -> (message: ByteBuffer, size: Int)?)?

    /// The socket's writability as last announced. NIO fires `channelWritabilityChanged` synchronously whenever a
    /// write or flush crosses a watermark, so the owning handler keeps this exact by setting it there, and each
    /// delivery reads one field here instead of the channel's atomic (thousands of sockets: a cache miss each).
    var socketWritable = true

    /// Bytes of the messages accepted so far (written or queued): the close log line's `bytes_out`.
    private(set) var bytesAccepted = 0

    /// Nothing waits: neither in the queue nor in this tick's unwritten bytes.
    var isEmpty: Bool { queue.isEmpty && tickBytes == nil }
    var queuedBytes: Int { queue.bytes }

    /// Writes or queues `message`; false when the queue is full (nothing was queued).
    /// - Parameter tag: how the queue may treat a publication while it waits (conflation, priority); only evaluated
    ///   when the message has to wait.
    func write(_ message: ByteBuffer, size: Int, context: ChannelHandlerContext, tag: @autoclosure () -> QueueTag? = nil) -> Bool {
        if queue.isEmpty {
            // NIO counts unflushed bytes towards the watermark. In a burst, push them to the socket before deciding
            // the peer is slow: only what the kernel will not take may pile up here (as NIO's BackPressureHandler does).
            if !socketWritable && wroteSinceFlush { flush(context: context) }
            if socketWritable {
                bytesAccepted &+= message.readableBytes
                addToTick(message, context: context)
                return true
            }
        }
        let (conflatedBefore, promotedBefore) = (queue.conflatedCount, queue.promotedCount)
        guard queue.append(message, size: size, tag: tag()) else { return false }
        bytesAccepted &+= message.readableBytes
        if queue.conflatedCount != conflatedBefore { metrics.conflated.increment() }
        if queue.promotedCount != promotedBefore { metrics.prioritized.increment(by: Int64(queue.promotedCount - promotedBefore)) }
        metrics.observeQueue(bytes: queue.bytes)
        return true
    }

    func flush(context: ChannelHandlerContext) {
        writeTick(context: context)
        guard wroteSinceFlush else { return }
        wroteSinceFlush = false
        context.flush()
    }

    /// Moves queued messages to the socket while it stays writable, then flushes.
    func drain(context: ChannelHandlerContext) {
        writeTick(context: context)
        while socketWritable, let next = queue.popNext() {
            if let channel = next.afterGap, let notice = gapNotice?(channel) {
                context.write(NIOAny(notice.message), promise: nil)
            }
            context.write(NIOAny(next.element), promise: nil)
            wroteSinceFlush = true
        }
        flush(context: context)
    }

    /// Drops everything waiting (the connection is gone).
    func discard() {
        queue.removeAll()
        tickBytes = nil
    }

    /// Drops what waits for a slow socket but hands this tick's messages to NIO: the connection is being closed on
    /// purpose, and what was written before the reason for closing (e.g. an error reply) should still reach the peer.
    func discardQueue(context: ChannelHandlerContext) {
        queue.removeAll()
        writeTick(context: context)
    }

    private func addToTick(_ message: ByteBuffer, context: ChannelHandlerContext) {
        guard var combined = tickBytes else {
            tickBytes = message
            tickBytesShared = true
            return
        }
        tickBytes = nil  // one owner while appending: no copy-on-write
        if tickBytesShared {
            // Room for a burst from the start: growing by reallocation showed up in profiles at thousands of sockets.
            var copy = context.channel.allocator.buffer(capacity: max(combined.readableBytes + message.readableBytes, 4096))
            copy.writeImmutableBuffer(combined)
            combined = copy
            tickBytesShared = false
        }
        combined.writeImmutableBuffer(message)
        if combined.readableBytes >= maxTickBytes {
            context.write(NIOAny(combined), promise: nil)
            wroteSinceFlush = true
        } else {
            tickBytes = combined
        }
    }

    private func writeTick(context: ChannelHandlerContext) {
        guard let bytes = tickBytes else { return }
        tickBytes = nil
        context.write(NIOAny(bytes), promise: nil)
        wroteSinceFlush = true
    }
}

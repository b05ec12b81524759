import NIOCore
import SwitchboardCore

/// The write side of a long-lived connection: writes go to the socket while it is writable, pile up in a bounded
/// ``OutboundQueue`` while it is not, and overflowing that queue is reported so the slow-consumer policy can apply.
///
/// Nothing here flushes on its own: callers write during a loop tick and the loop hub flushes once at its end.
final class OutboundPipe<Out> {
    private var queue: OutboundQueue<Out>
    private var wroteSinceFlush = false
    private let metrics: ServerMetrics

    init(maxBytes: Int, maxMessages: Int, metrics: ServerMetrics) {
        self.queue = OutboundQueue(maxBytes: maxBytes, maxMessages: maxMessages)
        self.metrics = metrics
    }

    /// Makes the message announcing that a channel's next publication follows a conflation gap (nil: nothing to
    /// announce, e.g. on raw endpoints).
    var gapNotice: ((ChannelName) -> (message: Out, size: Int)?)?

    var isEmpty: Bool { queue.isEmpty }
    var queuedBytes: Int { queue.bytes }

    /// Writes or queues `message`; false when the queue is full (nothing was queued).
    /// - Parameter tag: how the queue may treat a publication while it waits (conflation, priority); only evaluated
    ///   when the message has to wait.
    func write(_ message: Out, size: Int, context: ChannelHandlerContext, tag: @autoclosure () -> QueueTag? = nil) -> Bool {
        if queue.isEmpty {
            // NIO counts unflushed bytes towards the watermark. In a burst, push them to the socket before deciding
            // the peer is slow: only what the kernel will not take may pile up here (as NIO's BackPressureHandler does).
            if !context.channel.isWritable && wroteSinceFlush { flush(context: context) }
            if context.channel.isWritable {
                context.write(NIOAny(message), promise: nil)
                wroteSinceFlush = true
                return true
            }
        }
        let (conflatedBefore, promotedBefore) = (queue.conflatedCount, queue.promotedCount)
        guard queue.append(message, size: size, tag: tag()) else { return false }
        if queue.conflatedCount != conflatedBefore { metrics.conflated.increment() }
        if queue.promotedCount != promotedBefore { metrics.prioritized.increment(by: queue.promotedCount - promotedBefore) }
        metrics.observeQueue(bytes: queue.bytes)
        return true
    }

    func flush(context: ChannelHandlerContext) {
        guard wroteSinceFlush else { return }
        wroteSinceFlush = false
        context.flush()
    }

    /// Moves queued messages to the socket while it stays writable, then flushes.
    func drain(context: ChannelHandlerContext) {
        while context.channel.isWritable, let next = queue.popNext() {
            if let channel = next.afterGap, let notice = gapNotice?(channel) {
                context.write(NIOAny(notice.message), promise: nil)
            }
            context.write(NIOAny(next.element), promise: nil)
            wroteSinceFlush = true
        }
        flush(context: context)
    }

    /// Drops everything queued (the connection is going away).
    func discard() {
        queue.removeAll()
    }
}

import NIOCore

enum ConnectionClosing {
    /// Writes `last`, flushes, and closes once it has reached the socket (and with it everything written before), or
    /// after `timeout` when the peer does not read: a close would otherwise wait forever behind a full socket buffer.
    static func close(context: ChannelHandlerContext, after last: NIOAny, timeout: TimeAmount) {
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(last, promise: promise)
        let channel = context.channel
        let timer = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        promise.futureResult.whenComplete { _ in
            timer.cancel()
            channel.close(promise: nil)
        }
    }
}

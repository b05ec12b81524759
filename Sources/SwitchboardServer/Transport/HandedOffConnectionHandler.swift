import NIOCore

/// How a handed-off connection ends, shared by the WebSocket and SSE handlers: Hummingbird's quiesce starts the
/// handler's drain, a peer that half-closes is closed, an error closes, and the channel going away finishes the
/// handler.
///
/// Hummingbird's graceful shutdown waits for every connection it accepted, so a handler that ignored the quiesce or a
/// half-closed peer (half-closure is on) would hang SIGTERM.
protocol HandedOffConnectionHandler: ChannelInboundHandler {
    /// Graceful shutdown began: send what tells the peer to reconnect, then close once drained (a ``DrainDeadline``
    /// bounds the wait).
    func startDrain(context: ChannelHandlerContext)
    /// The channel is gone: release the session, timers and queued output. Runs on `channelInactive` and again on
    /// `handlerRemoved`, so it must be idempotent.
    func finish()
}

extension HandedOffConnectionHandler {
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ChannelShouldQuiesceEvent:
            startDrain(context: context)
        case let event as ChannelEvent where event == .inputClosed:
            context.close(promise: nil)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
    }
}

/// Closes a draining connection after `shutdown.drain_timeout_ms` unless it ends first: a peer that neither reads nor
/// answers must not hold up shutdown.
struct DrainDeadline {
    private var scheduled: Scheduled<Void>?

    mutating func start(_ timeout: TimeAmount, context: ChannelHandlerContext) {
        let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        scheduled = context.eventLoop.scheduleTask(in: timeout) { loopContext.value.close(promise: nil) }
    }

    /// The connection ended: the deadline is moot.
    mutating func cancel() {
        scheduled?.cancel()
        scheduled = nil
    }
}

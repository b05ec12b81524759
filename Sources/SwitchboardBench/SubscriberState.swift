import NIOCore

/// Where a bench subscriber connection stands; both subscriber kinds (WebSocket, SSE) share how failures and early
/// closes are counted.
enum SubscriberState {
    case handshaking, subscribing, subscribed, failed

    /// Records the failure once and closes the connection.
    mutating func fail(context: ChannelHandlerContext, reason: String, stats: LoopStats) {
        if self != .failed {
            self = .failed
            stats.recordFailure(reason)
        }
        context.close(promise: nil)
    }

    /// The connection ended: before subscribing it failed; after, it closed early unless the bench was closing.
    mutating func closed(context: ChannelHandlerContext, stats: LoopStats) {
        switch self {
        case .handshaking, .subscribing: fail(context: context, reason: "closed before subscribing", stats: stats)
        case .subscribed:
            self = .failed
            stats.closedEarlyUnlessClosing()
        case .failed: break
        }
    }

    mutating func errorCaught(context: ChannelHandlerContext, error: any Error, stats: LoopStats) {
        if self != .subscribed { fail(context: context, reason: "\(error)", stats: stats) } else { context.close(promise: nil) }
    }
}

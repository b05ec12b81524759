import NIOCore

/// Where a bench subscriber connection stands; every subscriber kind (WebSocket, SSE, long-poll) shares how failures
/// and early closes are counted.
///
/// The handlers close the connection themselves, after these methods return: a close runs `channelInactive` at once,
/// which updates the state again, and that must not overlap this update (Swift's exclusivity check aborts on it).
enum SubscriberState {
    case handshaking, subscribing, subscribed, failed

    /// Records the failure once; the caller closes the connection.
    mutating func fail(reason: String, stats: LoopStats) {
        if self != .failed {
            self = .failed
            stats.recordFailure(reason)
        }
    }

    /// The connection ended: before subscribing it failed; after, it closed early unless the bench was closing.
    mutating func closed(stats: LoopStats) {
        switch self {
        case .handshaking, .subscribing: fail(reason: "closed before subscribing", stats: stats)
        case .subscribed:
            self = .failed
            stats.closedEarlyUnlessClosing()
        case .failed: break
        }
    }

    /// An error before subscribing is the connection's failure; the caller closes the connection either way.
    mutating func errorCaught(error: any Error, stats: LoopStats) {
        if self != .subscribed { fail(reason: "\(error)", stats: stats) }
    }
}

/// A bench subscriber's channel handler: failures, early closes and errors are counted the same way for every kind.
protocol SubscriberConnection: ChannelInboundHandler {
    var state: SubscriberState { get set }
    var stats: LoopStats { get }
}

extension SubscriberConnection {
    /// Records the failure, then closes (after the state update: the close runs `channelInactive` at once).
    func fail(context: ChannelHandlerContext, reason: String) {
        state.fail(reason: reason, stats: stats)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        state.closed(stats: stats)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        state.errorCaught(error: error, stats: stats)
        context.close(promise: nil)
    }
}

import NIOCore

/// Closes the connection when `IdleStateHandler` reports that nothing was read for its timeout.
///
/// On a WebSocket the server sends a heartbeat at least every `heartbeat.interval_ms` (protocol.md §7), so longer
/// silence means a dead link nobody closed; on an HTTP request it bounds the wait for the answer.
final class CloseWhenSilentHandler<Part>: ChannelInboundHandler {
    typealias InboundIn = Part
    typealias InboundOut = Part

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

@available(*, unavailable)
extension CloseWhenSilentHandler: Sendable {}

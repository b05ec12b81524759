import NIOCore
import SwitchboardCore

/// What a session needs from the connection it runs on. WebSocket, SSE and the raw endpoints each adapt their wire
/// format behind it, so the session logic (subscriptions, recovery, commands, heartbeats) is written once.
///
/// Every method writes without flushing; the loop hub flushes once per tick.
protocol SessionTransport: AnyObject {
    /// Queues a publication push. False when the outbound queue overflowed: the transport is closing the connection.
    /// `conflates`: the channel's namespace replaces waiting publications by newer ones with the same key.
    func send(publication: EncodedPublication, conflates: Bool) -> Bool
    /// Queues a protocol message (reply or push). Transports without a command protocol may drop it.
    func send(message: ByteBuffer)
    /// A subscription that was not started by a command (SSE, raw endpoints) has its starting position.
    func subscriptionStarted(_ channel: ChannelName, recovery: Recovery)
    /// Announces a reset of a live subscription in the transport's own way (SSE: a `reset` event that moves the event
    /// id); false: the session sends the `reset` push as a message.
    func subscriptionReset(_ channel: ChannelName, recovery: Recovery) -> Bool
    /// Sends a heartbeat the peer can see (ping frame and ping push, or an SSE comment).
    func sendHeartbeat()
    /// Whether the peer answers heartbeats, so silence after one means the link is dead.
    var answersHeartbeats: Bool { get }
    func flush()
    /// Tells the peer why, then closes.
    func disconnect(_ code: CloseCode)
    /// The client can unpack several messages from one frame (`connect`'s `batch`).
    func setBatching(_ enabled: Bool)
    /// Bytes of messages accepted for the socket so far (written or queued), for the close log line; nil when the
    /// transport does not count them.
    var bytesSent: Int? { get }
}

extension SessionTransport {
    func subscriptionReset(_ channel: ChannelName, recovery: Recovery) -> Bool { false }

    /// Transports whose writes are already batched (SSE bytes, poll responses) ignore the request.
    func setBatching(_ enabled: Bool) {}

    var bytesSent: Int? { nil }
}

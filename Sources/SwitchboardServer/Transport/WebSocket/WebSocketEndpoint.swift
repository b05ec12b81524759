import NIOCore
import SwitchboardCore

/// Which endpoint a WebSocket upgrade serves: decided by the route from the request head, made into a
/// ``WebSocketEndpoint`` at the hand-off.
enum WebSocketMode {
    /// `/connection/websocket`: commands in, replies, pushes and publications out.
    case protocolV1
    /// `/raw/ws/{channel}`: bare publication data both ways.
    case raw(channel: ChannelName, options: NamespaceOptions)
    /// `/testing/echo`: every message sent back as one message; only served with `testing.echo_endpoint` on.
    case echo
    /// `/yjs/{room}`: the y-websocket protocol on the room's document; `canWrite` from the token or namespace rules.
    case yjs(room: ChannelName, options: NamespaceOptions, canWrite: Bool)

    /// Whether the endpoint's messages leave in binary frames whatever the subprotocol.
    var sendsBinary: Bool {
        if case .yjs = self { return true }
        return false
    }

    /// The `transport` metric label (the test-only echo endpoint counts as `websocket`).
    var transportKind: TransportKind {
        switch self {
        case .protocolV1, .echo: .websocket
        case .raw: .rawWebSocket
        case .yjs: .yjs
        }
    }

    func endpoint(on connection: WebSocketConnectionHandler, identity: Identity?, messagePack: Bool) -> any WebSocketEndpoint {
        switch self {
        case .protocolV1: WebSocketProtocolEndpoint(connection: connection, identity: identity, messagePack: messagePack)
        case .raw(let channel, let options): WebSocketRawEndpoint(connection: connection, channel: channel, options: options, identity: identity)
        case .echo: WebSocketEchoEndpoint(connection: connection)
        case .yjs(let room, let options, let canWrite):
            WebSocketYjsEndpoint(connection: connection, room: room, options: options, canWrite: canWrite)
        }
    }
}

/// What a WebSocket endpoint makes of a connection: what a client's message means and what the client receives, on top
/// of the frame machinery every endpoint shares (``WebSocketConnectionHandler``).
///
/// An endpoint holds its handler `unowned(unsafe)`: the handler owns the endpoint, and ends the endpoint's session
/// (``stop()``) before it can go away, so nothing reaches the endpoint afterwards. The reference makes no cycle, but each
/// call through it still retains and releases the handler (seen in the release build's machine code).
protocol WebSocketEndpoint: AnyObject {
    /// The handler is in the pipeline: open the session, if the endpoint has one.
    func start(context: ChannelHandlerContext)
    /// A frame arrived: any traffic counts for the heartbeat.
    func noteInbound()
    /// A complete message: inflated, and valid UTF-8 when text.
    func receive(_ message: ByteBuffer, isText: Bool)
    /// The message telling the client why the server closes, encoded for it; nil when the endpoint has none.
    func goodbye(_ code: CloseCode) -> ByteBuffer?
    /// The socket's writability changed.
    func writabilityChanged(_ isWritable: Bool, context: ChannelHandlerContext)
    /// The channel is gone: release the session. Idempotent.
    func stop()
    /// The endpoint's session, if it has one (slow-consumer metrics and logs name it).
    var session: Session? { get }
}

/// The test-only echo endpoint: sends every message back as one message; no session, commands or heartbeat.
final class WebSocketEchoEndpoint: WebSocketEndpoint {
    private unowned(unsafe) let connection: WebSocketConnectionHandler

    init(connection: WebSocketConnectionHandler) {
        self.connection = connection
    }

    var session: Session? { nil }

    func start(context: ChannelHandlerContext) {}
    func noteInbound() {}

    func receive(_ message: ByteBuffer, isText: Bool) {
        connection.echo(message, isText: isText)
    }

    func goodbye(_ code: CloseCode) -> ByteBuffer? { nil }

    /// Echo applies backpressure the plain way: stop reading while the peer does not read its echoes.
    func writabilityChanged(_ isWritable: Bool, context: ChannelHandlerContext) {
        try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: isWritable)
    }

    func stop() {}
}

@available(*, unavailable) extension WebSocketEchoEndpoint: Sendable {}

/// The ``SessionTransport`` side that the WebSocket endpoints with a session share: flushing, closing and the
/// heartbeat's ping frame go to the connection; each endpoint adds what its clients read.
protocol WebSocketSessionEndpoint: WebSocketEndpoint, SessionTransport {
    var connection: WebSocketConnectionHandler { get }
    var session: Session? { get set }
}

extension WebSocketSessionEndpoint {
    /// Opens this endpoint's session on the connection's event loop.
    @discardableResult
    func openSession(_ kind: TransportKind, identity: Identity?, context: ChannelHandlerContext) -> Session {
        let services = connection.services
        let session = Session(
            kind: kind, services: services.session, loopHub: services.hub.loopHub(for: context.eventLoop), transport: self, identity: identity,
            userAdmitted: true, remoteAddress: context.channel.remoteAddress?.ipAddress
        )
        self.session = session
        return session
    }

    func noteInbound() { session?.noteInbound() }

    func writabilityChanged(_ isWritable: Bool, context: ChannelHandlerContext) {}

    func stop() {
        session?.close()
        session = nil
    }

    func subscriptionStarted(_ channel: ChannelName, recovery: Recovery) {}

    var answersHeartbeats: Bool { true }

    var bytesSent: Int? { connection.output.pipe.bytesAccepted }

    func flush() { connection.flush() }

    func disconnect(_ code: CloseCode) { connection.disconnect(code) }
}

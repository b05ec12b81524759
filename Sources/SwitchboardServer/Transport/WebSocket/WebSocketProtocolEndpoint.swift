import NIOCore
import SwitchboardCore

/// The protocol endpoint (`/connection/websocket`): commands in, replies, pushes and publications out, as JSON in text
/// frames or, with `switchboard.v1.msgpack`, as MessagePack in binary frames; optionally batched per loop tick.
final class WebSocketProtocolEndpoint: WebSocketSessionEndpoint {
    unowned(unsafe) let connection: WebSocketConnectionHandler
    var session: Session?
    private let identity: Identity?
    /// `switchboard.v1.msgpack`: commands arrive and replies and pushes leave as MessagePack in binary frames.
    private let messagePack: Bool

    init(connection: WebSocketConnectionHandler, identity: Identity?, messagePack: Bool) {
        self.connection = connection
        self.identity = identity
        self.messagePack = messagePack
    }

    func start(context: ChannelHandlerContext) {
        let output = connection.output
        output.pipe.gapNotice = { [unowned self, unowned output] channel in
            let notice = self.encoded(Pushes.conflated(channel: channel))
            return (output.dataFrame(notice, opcode: output.messageOpcode), notice.readableBytes)
        }
        openSession(.websocket, identity: identity, context: context)
    }

    func receive(_ message: ByteBuffer, isText: Bool) {
        guard messagePack else {
            guard isText else { return connection.fail(WebSocketFailure(.unsupportedData, "protocol switchboard.v1.json takes text frames only")) }
            session?.receive(command: message)
            return
        }
        guard !isText else { return connection.fail(WebSocketFailure(.unsupportedData, "protocol switchboard.v1.msgpack takes binary frames only")) }
        do {
            session?.receive(command: try MessagePackTranscoder.json(fromMessagePack: message))
        } catch {
            session?.receive(undecodableCommand: "command is not a MessagePack map: \(error)")
        }
    }

    func goodbye(_ code: CloseCode) -> ByteBuffer? { encoded(Pushes.disconnect(code)) }

    // MARK: SessionTransport

    func send(publication: EncodedPublication, conflates: Bool) -> Bool {
        let (payload, frame) = messagePack ? publication.messagePackEncoded : (publication.jsonPush, publication.jsonTextFrame)
        return connection.sendPublication(payload, sharedFrame: frame, tag: publication.queueTag(conflates: conflates))
    }

    func send(message: ByteBuffer) {
        guard connection.isOpen else { return }
        _ = connection.send(encoded(message))
    }

    func setBatching(_ enabled: Bool) {
        connection.output.batching = enabled
    }

    func sendHeartbeat() {
        connection.sendPing()
        send(message: Pushes.ping())
    }

    /// Protocol messages are built as JSON; a MessagePack session gets each one transcoded (publications are
    /// transcoded once per publication instead, see ``EncodedPublication/messagePackPush``).
    private func encoded(_ json: ByteBuffer) -> ByteBuffer {
        guard messagePack else { return json }
        return (try? MessagePackTranscoder.messagePack(fromJSON: json)) ?? json
    }
}

@available(*, unavailable) extension WebSocketProtocolEndpoint: Sendable {}

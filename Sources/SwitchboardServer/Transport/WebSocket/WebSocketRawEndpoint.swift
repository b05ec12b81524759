import Foundation
import NIOCore
import SwitchboardCore

/// The raw endpoint (`/raw/ws/{channel}`): each publication's data out as a bare text frame, each client message in
/// as a publication to the URL's channel. There are no commands, so replies and pushes have no reader and are dropped.
final class WebSocketRawEndpoint: WebSocketSessionEndpoint {
    unowned(unsafe) let connection: WebSocketConnectionHandler
    var session: Session?
    private let channel: ChannelName
    private let options: NamespaceOptions
    private let identity: Identity?

    init(connection: WebSocketConnectionHandler, channel: ChannelName, options: NamespaceOptions, identity: Identity?) {
        self.connection = connection
        self.channel = channel
        self.options = options
        self.identity = identity
    }

    func start(context: ChannelHandlerContext) {
        openSession(.rawWebSocket, identity: identity, context: context).subscribeFromStream(channel, since: nil)
    }

    /// JSON text is published as it is (minified), other text as a JSON string, binary (where allowed) as a base64
    /// string.
    func receive(_ message: ByteBuffer, isText: Bool) {
        let metrics = connection.services.metrics
        guard options.allowClientPublish else {
            metrics.error(.publishNotAllowed)
            return connection.fail(WebSocketFailure(.policyViolation, "clients may not publish to this namespace"))
        }
        let data: ByteBuffer
        if isText {
            data = (try? JSONScanner.validateAndMinify(message)) ?? JSONText.string(String(decoding: message.readableBytesView, as: UTF8.self))
        } else {
            guard options.allowBinary else {
                metrics.error(.binaryNotAllowed)
                return connection.fail(WebSocketFailure(.unsupportedData, CloseCode.unsupportedData.reason))
            }
            data = JSONText.string(Data(message.readableBytesView).base64EncodedString())
        }
        session?.receive(rawPublish: PublishRequest(channel: channel, data: data, sender: session?.user))
    }

    func goodbye(_ code: CloseCode) -> ByteBuffer? { nil }

    // MARK: SessionTransport

    func send(publication: EncodedPublication, conflates: Bool) -> Bool {
        connection.sendPublication(publication.rawData, sharedFrame: publication.rawTextFrame, tag: publication.queueTag(conflates: conflates))
    }

    func send(message: ByteBuffer) {}

    func sendHeartbeat() {
        connection.sendPing()
    }
}

@available(*, unavailable) extension WebSocketRawEndpoint: Sendable {}

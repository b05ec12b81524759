import Foundation
import NIOCore
import NIOWebSocket
import SwitchboardCore

/// A WebSocket connection after the upgrade: assembles messages from frames, answers control frames, runs the close
/// handshake, and carries a ``Session``'s output as text frames.
///
/// Two modes share it: the protocol endpoint (`/connection/websocket`, JSON commands and pushes) and the raw endpoint
/// (`/raw/ws/{channel}`, bare publication data both ways).
final class WebSocketSessionHandler: ChannelInboundHandler, SessionTransport {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    enum Mode {
        case protocolV1
        case raw(channel: ChannelName, options: NamespaceOptions)
    }

    private enum CloseState {
        case open
        /// We sent a close frame and wait for the peer's.
        case closeSent
        case closed
    }

    private let mode: Mode
    private let services: HubServices
    private let maxMessageBytes: Int
    private var context: ChannelHandlerContext?
    private var session: Session?
    private let pipe: OutboundPipe<WebSocketFrame>
    private var fragments: ByteBuffer?
    private var fragmentsAreText = false
    private var closeState = CloseState.open
    private var closeTimer: Scheduled<Void>?

    private let identity: Identity?

    init(mode: Mode, services: HubServices, identity: Identity?) {
        self.identity = identity
        self.mode = mode
        self.services = services
        self.maxMessageBytes = services.settings.limits.maxMessageBytes
        self.pipe = OutboundPipe(
            maxBytes: services.settings.limits.outboundQueueBytes,
            maxMessages: services.settings.limits.outboundQueueMessages,
            metrics: services.metrics
        )
    }

    private var isRaw: Bool {
        if case .raw = mode { return true }
        return false
    }

    // MARK: lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let session = Session(
            kind: isRaw ? .rawWebSocket : .websocket,
            services: services,
            loopHub: services.hub.loopHub(for: context.eventLoop),
            transport: self,
            identity: identity,
            userAdmitted: true
        )
        self.session = session
        if case .raw(let channel, _) = mode { session.subscribeFromStream(channel, since: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
    }

    private func finish() {
        closeState = .closed
        closeTimer?.cancel()
        closeTimer = nil
        pipe.discard()
        session?.close()
        session = nil
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { pipe.drain(context: context) }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ChannelShouldQuiesceEvent:
            closeGracefully(.shutdown, context: context)
        case let event as ChannelEvent where event == .inputClosed:
            context.close(promise: nil)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Frame decoding errors were answered with a close frame by WebSocketProtocolErrorHandler.
        if let error = error as? NIOWebSocketError {
            // The protocol error handler before this one has already sent the matching close frame (1002 or 1009).
            services.metrics.error(error == .invalidFrameLength ? .messageTooLarge : .badRequest)
        }
        context.close(promise: nil)
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        session?.noteInbound()
        guard case .open = closeState else {
            if frame.opcode == .connectionClose { context.close(promise: nil) }
            return
        }
        guard frame.maskKey != nil else { return fail(.protocolError, reason: "client frames must be masked") }
        guard frame.reservedBits.isEmpty else { return fail(.protocolError, reason: "reserved bits set without an extension") }

        switch frame.opcode {
        case .connectionClose:
            receivedClose(frame, context: context)
        case .ping:
            var pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            pong.maskKey = nil
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .pong:
            break
        case .text, .binary:
            guard fragments == nil else { return fail(.protocolError, reason: "new message before the previous one ended") }
            let isText = frame.opcode == .text
            if frame.fin {
                complete(frame.unmaskedData, isText: isText)
            } else {
                fragments = frame.unmaskedData
                fragmentsAreText = isText
            }
        case .continuation:
            guard var buffer = fragments else { return fail(.protocolError, reason: "continuation frame without a message") }
            fragments = nil
            guard buffer.readableBytes + frame.length <= maxMessageBytes else {
                services.metrics.error(.messageTooLarge)
                return fail(.messageTooLarge, reason: "message larger than \(maxMessageBytes) bytes")
            }
            var data = frame.unmaskedData
            buffer.writeBuffer(&data)
            if frame.fin { complete(buffer, isText: fragmentsAreText) } else { fragments = buffer }
        default:
            fail(.protocolError, reason: "unknown opcode")
        }
    }

    private func complete(_ message: ByteBuffer, isText: Bool) {
        if isText {
            guard UTF8Validation.isValid(message.readableBytesView) else {
                return fail(.invalidPayload, reason: "text frame is not valid UTF-8")
            }
        }
        switch mode {
        case .protocolV1:
            guard isText else { return fail(.unsupportedData, reason: "protocol switchboard.v1.json takes text frames only") }
            session?.receive(command: message)
        case .raw(let channel, let options):
            guard options.allowClientPublish else {
                services.metrics.error(.publishNotAllowed)
                return fail(.policyViolation, reason: "clients may not publish to this namespace")
            }
            let data: ByteBuffer
            if isText {
                data = (try? JSONScanner.validateAndMinify(message)) ?? JSONText.string(String(decoding: message.readableBytesView, as: UTF8.self))
            } else {
                guard options.allowBinary else {
                    services.metrics.error(.binaryNotAllowed)
                    return fail(.unsupportedData, reason: CloseCode.unsupportedData.reason)
                }
                data = JSONText.string(Data(message.readableBytesView).base64EncodedString())
            }
            session?.receive(rawPublish: PublishRequest(channel: channel, data: data, sender: session?.user))
        }
    }

    private func receivedClose(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        var data = frame.unmaskedData
        var reply = CloseCode.normal
        switch data.readableBytes {
        case 0:
            break
        case 1:
            reply = .protocolError
        default:
            let code = data.readInteger(as: UInt16.self)!
            if !CloseCode.isValidFromPeer(code) {
                reply = .protocolError
            } else if !UTF8Validation.isValid(data.readableBytesView) {
                reply = .invalidPayload
            } else {
                reply = CloseCode(code, "")
            }
        }
        closeState = .closed
        ConnectionClosing.close(context: context, after: wrapOutboundOut(closeFrame(reply, reason: "")), timeout: .seconds(1))
    }

    // MARK: outbound (SessionTransport)

    func send(publication: EncodedPublication) -> Bool {
        guard let context, case .open = closeState else { return false }
        let payload = isRaw ? publication.rawData : publication.jsonPush
        guard pipe.write(WebSocketFrame(fin: true, opcode: .text, data: payload), size: payload.readableBytes, context: context) else {
            slowConsumer()
            return false
        }
        return true
    }

    func send(message: ByteBuffer) {
        guard !isRaw, let context, case .open = closeState else { return }
        if !pipe.write(WebSocketFrame(fin: true, opcode: .text, data: message), size: message.readableBytes, context: context) {
            slowConsumer()
        }
    }

    func subscriptionStarted(_ channel: ChannelName, recovery: Recovery) {}

    var answersHeartbeats: Bool { true }

    func sendHeartbeat() {
        guard let context, case .open = closeState else { return }
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: context.channel.allocator.buffer(string: "sb"))), promise: nil)
        if !isRaw { send(message: Pushes.ping()) }
    }

    func flush() {
        guard let context else { return }
        pipe.flush(context: context)
    }

    /// Abrupt close (slow consumer, dead link, protocol abuse): tell the peer why, then close without waiting.
    func disconnect(_ code: CloseCode) {
        guard let context, case .open = closeState else { return }
        closeState = .closed
        pipe.discard()
        if !isRaw { context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: Pushes.disconnect(code))), promise: nil) }
        ConnectionClosing.close(context: context, after: wrapOutboundOut(closeFrame(code, reason: code.reason)), timeout: .milliseconds(100))
    }

    private func slowConsumer() {
        services.metrics.slowConsumerDisconnects.increment()
        disconnect(.slowConsumer)
    }

    /// Shutdown: queued publications go out first, then the disconnect advice and the close frame; the connection
    /// closes on the peer's close reply or after the drain timeout.
    private func closeGracefully(_ code: CloseCode, context: ChannelHandlerContext) {
        guard case .open = closeState else { return }
        if !isRaw { send(message: Pushes.disconnect(code)) }
        guard case .open = closeState else { return }  // the advice may have overflowed the queue
        closeState = .closeSent
        if !pipe.write(closeFrame(code, reason: code.reason), size: 0, context: context) {
            context.close(promise: nil)
            return
        }
        pipe.flush(context: context)
        let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        closeTimer = context.eventLoop.scheduleTask(in: services.settings.drainTimeout) {
            loopContext.value.close(promise: nil)
        }
    }

    private func fail(_ code: CloseCode, reason: String) {
        guard let context, case .open = closeState else { return }
        closeState = .closed
        fragments = nil
        pipe.discard()
        ConnectionClosing.close(context: context, after: wrapOutboundOut(closeFrame(code, reason: reason)), timeout: .seconds(1))
    }

    private func closeFrame(_ code: CloseCode, reason: String) -> WebSocketFrame {
        var buffer = ByteBufferAllocator().buffer(capacity: 2 + reason.utf8.count)
        buffer.writeInteger(code.rawValue)
        // Close reasons are limited to 123 bytes so the frame stays a legal control frame.
        buffer.writeString(String(reason.utf8.prefix(123)) ?? "")
        return WebSocketFrame(fin: true, opcode: .connectionClose, data: buffer)
    }
}

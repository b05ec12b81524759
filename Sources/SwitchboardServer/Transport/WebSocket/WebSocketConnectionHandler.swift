import Foundation
import NIOCore
import NIOWebSocket
import SwitchboardCore

/// A WebSocket connection after the upgrade: assembles messages from frames, answers control frames, runs the close
/// handshake, and carries a ``Session``'s output as text frames.
///
/// Three modes share it: the protocol endpoint (`/connection/websocket`, JSON commands and pushes), the raw endpoint
/// (`/raw/ws/{channel}`, bare publication data both ways) and the test-only echo endpoint (`/testing/echo`, every
/// message sent back), so the Autobahn conformance suite exercises exactly the frame machinery clients get.
///
/// With permessage-deflate agreed, messages with RSV1 set are inflated (the size limit applies to the inflated size)
/// and outgoing messages of at least `websocket.compression_min_bytes` are compressed (see ``PerMessageDeflate``).
final class WebSocketSessionHandler: ChannelInboundHandler, SessionTransport {
    typealias InboundIn = WebSocketFrame
    /// Frames leave as wire bytes (``WebSocketFraming``): a publication's frame is built once and shared by every
    /// subscriber, so NIO's `WebSocketFrameEncoder` is not in the pipeline.
    typealias OutboundOut = ByteBuffer

    enum Mode {
        case protocolV1
        case raw(channel: ChannelName, options: NamespaceOptions)
        /// Echoes every message as one message; only served with `testing.echo_endpoint` on.
        case echo
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
    private let pipe: OutboundPipe
    private var fragments: ByteBuffer?
    private var fragmentsAreText = false
    /// The message being assembled has RSV1 set: its frames are compressed and inflated once it is complete.
    private var fragmentsAreCompressed = false
    /// Validates uncompressed text as frames arrive, so invalid UTF-8 fails the connection at once.
    private var utf8 = UTF8StreamValidator()
    private let deflate: PerMessageDeflateAgreement?
    private var loopCodecs: DeflateLoopCodecs?
    /// The client keeps its compression context: this connection needs its own inflater (made on first use).
    private var connectionInflater: MessageInflater?
    /// Echo mode writes outside the session pipe and flushes once per read burst.
    private var echoNeedsFlush = false
    /// Pongs written during this read burst, flushed at its end.
    private var controlNeedsFlush = false
    /// The payload of the latest ping that arrived while the socket was full (answered when it drains).
    private var pendingPongPayload: ByteBuffer?
    private var closeState = CloseState.open
    private var closeTimer: Scheduled<Void>?
    /// Running while a fragmented message is incomplete: a message must end within `limits.message_timeout_ms`, or a
    /// client could hold its buffer forever with a trickle of continuation frames (each counts as heartbeat traffic).
    private var messageTimer: Scheduled<Void>?

    private let identity: Identity?
    /// `switchboard.v1.msgpack`: commands arrive and replies and pushes leave as MessagePack in binary frames.
    private let messagePack: Bool
    /// Batching (the client asked with `connect`'s `batch`): the messages of one loop tick leave as one frame.
    private var batching = false
    private var batch: [ByteBuffer] = []
    private var batchBytes = 0
    /// A batch frame is closed once it reaches this size; the next message starts a new one.
    static let maxBatchBytes = 64 * 1024

    init(mode: Mode, services: HubServices, identity: Identity?, deflate: PerMessageDeflateAgreement? = nil, messagePack: Bool = false) {
        self.identity = identity
        self.messagePack = messagePack
        self.mode = mode
        self.services = services
        self.deflate = deflate
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

    private var isEcho: Bool {
        if case .echo = mode { return true }
        return false
    }

    // MARK: lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        pipe.socketWritable = context.channel.isWritable
        if deflate != nil { loopCodecs = DeflateLoopCodecs.current }
        if !isRaw {
            pipe.gapNotice = { [unowned self] channel in
                let notice = self.encoded(Pushes.conflated(channel: channel))
                return (self.dataFrame(notice, opcode: self.messageOpcode), notice.readableBytes)
            }
        }
        // The echo endpoint has no session: no commands, no subscriptions, no heartbeat.
        if isEcho { return }
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
        messageTimer?.cancel()
        messageTimer = nil
        closeTimer = nil
        fragments = nil
        pendingPongPayload = nil
        connectionInflater = nil
        discardOutbound()
        session?.close()
        session = nil
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        pipe.socketWritable = context.channel.isWritable
        if pipe.socketWritable {
            sendPendingPong(context: context)
            pipe.drain(context: context)
        }
        // Echo applies backpressure the plain way: stop reading while the peer does not read its echoes.
        if isEcho { try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: context.channel.isWritable) }
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
        // The frame decoder refused what it read: answer with the matching close code (the close follows the frame).
        if let error = error as? NIOWebSocketError {
            let tooLarge = error == .invalidFrameLength
            services.metrics.error(tooLarge ? .messageTooLarge : .badRequest)
            if case .open = closeState {
                return tooLarge
                    ? fail(.messageTooLarge, reason: "frame larger than \(maxMessageBytes) bytes") : fail(.protocolError, reason: "malformed frame")
            }
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
        // RSV1 means "compressed" on the first frame of a data message once permessage-deflate is agreed; any other
        // reserved bit, or RSV1 anywhere else, has no meaning here (RFC 6455 section 5.2, RFC 7692 section 6).
        let compressedStart = frame.rsv1 && deflate != nil && (frame.opcode == .text || frame.opcode == .binary)
        guard !frame.rsv2, !frame.rsv3, !frame.rsv1 || compressedStart else {
            return fail(.protocolError, reason: "reserved bits set without an extension")
        }

        switch frame.opcode {
        case .connectionClose:
            receivedClose(frame, context: context)
        case .ping:
            answerPing(frame.unmaskedPayload, context: context)
        case .pong:
            break
        case .text, .binary:
            guard fragments == nil else { return fail(.protocolError, reason: "new message before the previous one ended") }
            let isText = frame.opcode == .text
            let data = frame.unmaskedPayload
            fragmentsAreText = isText
            fragmentsAreCompressed = compressedStart
            utf8 = UTF8StreamValidator()
            guard checkText(data) else { return }
            if frame.fin {
                messageEnded(data)
            } else {
                fragments = data
                startMessageTimer(context: context)
            }
        case .continuation:
            guard var buffer = fragments else { return fail(.protocolError, reason: "continuation frame without a message") }
            fragments = nil
            guard buffer.readableBytes + frame.length <= maxMessageBytes else {
                services.metrics.error(.messageTooLarge)
                return fail(.messageTooLarge, reason: "message larger than \(maxMessageBytes) bytes")
            }
            var data = frame.unmaskedPayload
            guard checkText(data) else { return }
            buffer.writeBuffer(&data)
            if frame.fin {
                messageTimer?.cancel()
                messageTimer = nil
                messageEnded(buffer)
            } else {
                fragments = buffer
            }
        default:
            fail(.protocolError, reason: "unknown opcode")
        }
    }

    /// Pongs obey the same bound as everything else sent: while the socket takes bytes they go out (flushed with the
    /// read burst); while it does not, only the latest ping is remembered and answered once it drains (RFC 6455
    /// §5.5.3 allows answering only the most recent ping). A client that pings without reading costs one pong.
    private func answerPing(_ payload: ByteBuffer, context: ChannelHandlerContext) {
        guard pipe.socketWritable else {
            pendingPongPayload = payload
            return
        }
        context.write(wrapOutboundOut(WebSocketFraming.frame(payload, opcode: .pong, allocator: context.channel.allocator)), promise: nil)
        controlNeedsFlush = true
    }

    /// Sends the pong held back while the socket was full.
    private func sendPendingPong(context: ChannelHandlerContext) {
        guard let payload = pendingPongPayload, pipe.socketWritable, case .open = closeState else { return }
        pendingPongPayload = nil
        context.writeAndFlush(wrapOutboundOut(WebSocketFraming.frame(payload, opcode: .pong, allocator: context.channel.allocator)), promise: nil)
    }

    /// Fail-fast UTF-8 check of an uncompressed text frame; false when the connection was failed.
    private func checkText(_ data: ByteBuffer) -> Bool {
        guard fragmentsAreText, !fragmentsAreCompressed else { return true }
        guard data.withUnsafeReadableBytes({ utf8.feed($0) }) else {
            fail(.invalidPayload, reason: "text frame is not valid UTF-8")
            return false
        }
        return true
    }

    /// The last frame of a message arrived: inflate it if compressed, finish the UTF-8 check, hand it on.
    private func messageEnded(_ payload: ByteBuffer) {
        var message = payload
        if fragmentsAreCompressed {
            guard let inflated = inflate(payload) else { return }
            message = inflated
            if fragmentsAreText {
                var validator = UTF8StreamValidator()
                guard message.withUnsafeReadableBytes({ validator.feed($0) }), validator.isComplete else {
                    return fail(.invalidPayload, reason: "text frame is not valid UTF-8")
                }
            }
        } else if fragmentsAreText {
            guard utf8.isComplete else { return fail(.invalidPayload, reason: "text frame is not valid UTF-8") }
        }
        complete(message, isText: fragmentsAreText)
    }

    /// Nil when the connection was failed (zip bomb: 1009; not deflate: 1007).
    private func inflate(_ compressed: ByteBuffer) -> ByteBuffer? {
        guard let deflate, let loopCodecs else { return nil }
        do {
            let inflater: MessageInflater
            if deflate.clientNoContextTakeover {
                inflater = try loopCodecs.inflater()
            } else {
                if connectionInflater == nil { connectionInflater = try MessageInflater(keepsContext: true) }
                inflater = connectionInflater!
            }
            return try inflater.inflate(compressed, limit: maxMessageBytes, allocator: context?.channel.allocator ?? ByteBufferAllocator())
        } catch PerMessageDeflate.InflateError.tooLarge {
            services.metrics.error(.messageTooLarge)
            fail(.messageTooLarge, reason: "inflated message larger than \(maxMessageBytes) bytes")
        } catch {
            fail(.invalidPayload, reason: "compressed message is not valid deflate data")
        }
        return nil
    }

    private func complete(_ message: ByteBuffer, isText: Bool) {
        switch mode {
        case .echo:
            guard let context else { return }
            context.write(wrapOutboundOut(dataFrame(message, opcode: isText ? .text : .binary)), promise: nil)
            echoNeedsFlush = true
        case .protocolV1 where messagePack:
            guard !isText else { return fail(.unsupportedData, reason: "protocol switchboard.v1.msgpack takes binary frames only") }
            do {
                session?.receive(command: try MessagePackTranscoder.json(fromMessagePack: message))
            } catch {
                session?.receive(undecodableCommand: "command is not a MessagePack map: \(error)")
            }
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

    func channelReadComplete(context: ChannelHandlerContext) {
        if echoNeedsFlush || controlNeedsFlush {
            echoNeedsFlush = false
            controlNeedsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    private func receivedClose(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        var data = frame.unmaskedPayload
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

    func send(publication: EncodedPublication, conflates: Bool) -> Bool {
        guard case .open = closeState else { return false }
        let payload: ByteBuffer
        var sharedFrame: ByteBuffer?
        if isRaw {
            payload = publication.rawData
        } else if messagePack {
            (payload, sharedFrame) = publication.messagePackEncoded
        } else {
            (payload, sharedFrame) = (publication.jsonPush, publication.jsonTextFrame)
        }
        if compresses(payload) { sharedFrame = nil }
        guard emit(payload, frame: sharedFrame, tag: publication.queueTag(conflates: conflates)) else {
            slowConsumer()
            return false
        }
        return true
    }

    func send(message: ByteBuffer) {
        guard !isRaw, !isEcho, case .open = closeState else { return }
        if !emit(encoded(message), frame: nil, tag: nil) { slowConsumer() }
    }

    func setBatching(_ enabled: Bool) {
        batching = enabled && !isRaw && !isEcho
    }

    /// Writes one message: into this tick's batch while the socket keeps up, else as its own frame (a waiting
    /// frame can still be conflated or overtaken by priority).
    /// - Parameter frame: `payload` already framed and shared with other connections, when it is sent as it is.
    private func emit(_ payload: ByteBuffer, frame: ByteBuffer?, tag: @autoclosure () -> QueueTag?) -> Bool {
        guard let context else { return false }
        if batching && pipe.isEmpty && pipe.socketWritable {
            if batchBytes + payload.readableBytes > Self.maxBatchBytes, !writeBatch() { return false }
            batch.append(payload)
            batchBytes += payload.readableBytes + 1
            return true
        }
        // Whatever is batched goes first, so order is kept when the socket stops keeping up mid-tick.
        guard writeBatch() else { return false }
        return pipe.write(frame ?? dataFrame(payload, opcode: messageOpcode), size: payload.readableBytes, context: context, tag: tag())
    }

    /// Sends this tick's batch as one frame: JSON messages separated by a newline (minified JSON has none inside),
    /// MessagePack values back to back (each is self-delimiting). A batch of one is sent as it is, without a copy.
    private func writeBatch() -> Bool {
        guard !batch.isEmpty, let context else { return true }
        defer {
            batch.removeAll(keepingCapacity: true)
            batchBytes = 0
        }
        var payload = batch[0]
        if batch.count > 1 {
            payload = context.channel.allocator.buffer(capacity: batchBytes)
            for (index, var part) in batch.enumerated() {
                if index > 0 && !messagePack { payload.writeInteger(UInt8(ascii: "\n")) }
                payload.writeBuffer(&part)
            }
            services.metrics.batchedMessages.increment(by: batch.count)
        }
        return pipe.write(dataFrame(payload, opcode: messageOpcode), size: payload.readableBytes, context: context)
    }

    /// Drops what waits. `context` given: the close is on purpose, so this tick's messages are still handed to NIO
    /// (an error reply written just before a disconnect reaches the peer); without it the connection is gone.
    private func discardOutbound(context: ChannelHandlerContext? = nil) {
        guard let context else {
            batch.removeAll()
            batchBytes = 0
            pipe.discard()
            return
        }
        _ = writeBatch()
        pipe.discardQueue(context: context)
    }

    func subscriptionStarted(_ channel: ChannelName, recovery: Recovery) {}

    var answersHeartbeats: Bool { true }

    func sendHeartbeat() {
        guard let context, case .open = closeState else { return }
        // A socket that takes nothing gets no more pings piled up; the heartbeat timeout deals with it.
        if pipe.socketWritable { context.write(wrapOutboundOut(Self.pingFrame), promise: nil) }
        if !isRaw { send(message: Pushes.ping()) }
    }

    private static let pingFrame = WebSocketFraming.frame(ByteBuffer(string: "sb"), opcode: .ping)

    func flush() {
        guard let context else { return }
        if !writeBatch() { return slowConsumer() }
        pipe.flush(context: context)
    }

    /// Abrupt close (slow consumer, dead link, protocol abuse): tell the peer why, then close without waiting.
    func disconnect(_ code: CloseCode) {
        guard let context, case .open = closeState else { return }
        closeState = .closed
        discardOutbound(context: context)
        if !isRaw && !isEcho {
            context.write(wrapOutboundOut(WebSocketFraming.frame(encoded(Pushes.disconnect(code)), opcode: messageOpcode)), promise: nil)
        }
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
        if !writeBatch() || !pipe.write(closeFrame(code, reason: code.reason), size: 0, context: context) {
            context.close(promise: nil)
            return
        }
        pipe.flush(context: context)
        let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        closeTimer = context.eventLoop.scheduleTask(in: services.settings.drainTimeout) {
            loopContext.value.close(promise: nil)
        }
    }

    private func startMessageTimer(context: ChannelHandlerContext) {
        let limit = TimeAmount(services.settings.limits.messageTimeout)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        messageTimer = context.eventLoop.scheduleTask(in: limit) {
            handler.value.fail(.policyViolation, reason: "message not completed within limits.message_timeout_ms")
        }
    }

    private func fail(_ code: CloseCode, reason: String) {
        messageTimer?.cancel()
        messageTimer = nil
        guard let context, case .open = closeState else { return }
        closeState = .closed
        fragments = nil
        discardOutbound(context: context)
        ConnectionClosing.close(context: context, after: wrapOutboundOut(closeFrame(code, reason: reason)), timeout: .seconds(1))
    }

    /// Protocol messages are built as JSON; a MessagePack session gets each one transcoded (publications are
    /// transcoded once per publication instead, see ``EncodedPublication/messagePackPush``).
    private func encoded(_ json: ByteBuffer) -> ByteBuffer {
        guard messagePack else { return json }
        return (try? MessagePackTranscoder.messagePack(fromJSON: json)) ?? json
    }

    private var messageOpcode: WebSocketFraming.Opcode { messagePack ? .binary : .text }

    /// Whether deflate was agreed and the message is worth compressing.
    private func compresses(_ payload: ByteBuffer) -> Bool {
        deflate != nil && payload.readableBytes >= services.settings.configuration.webSocket.compressionMinBytes
    }

    /// One unfragmented data frame, compressed when ``compresses(_:)`` says so.
    ///
    /// A compression failure (zlib out of memory) sends the message uncompressed: RSV1 is per message.
    private func dataFrame(_ payload: ByteBuffer, opcode: WebSocketFraming.Opcode) -> ByteBuffer {
        let allocator = context?.channel.allocator ?? ByteBufferAllocator()
        if compresses(payload), let deflate, let loopCodecs,
            let compressed = try? loopCodecs.deflater(windowBits: deflate.compressorWindowBits).compress(
                payload, allocator: allocator, reusingLast: !services.settings.configuration.testing.deflatePerConnection)
        {
            return WebSocketFraming.frame(compressed, opcode: opcode, compressed: true, allocator: allocator)
        }
        return WebSocketFraming.frame(payload, opcode: opcode, allocator: allocator)
    }

    private func closeFrame(_ code: CloseCode, reason: String) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 2 + reason.utf8.count)
        buffer.writeInteger(code.rawValue)
        // Close reasons are limited to 123 bytes so the frame stays a legal control frame.
        buffer.writeString(String(reason.utf8.prefix(123)) ?? "")
        return WebSocketFraming.frame(buffer, opcode: .close)
    }
}

import NIOCore
import NIOWebSocket
import SwitchboardCore

/// Carries one WebSocket connection after the upgrade: runs the frame rules, the close handshake, pongs and inflating,
/// and hands complete messages to its endpoint.
///
/// Every endpoint shares this machinery; the rules themselves are the pure ``WebSocketConnectionStateMachine`` (this
/// class only carries out its actions), and frames leave through ``WebSocketOutput``. What a message means and what a
/// client receives is the ``WebSocketEndpoint``'s: the protocol endpoint (`/connection/websocket`), the raw endpoint
/// (`/raw/ws/{channel}`) or the test-only echo endpoint (`/testing/echo`), so the Autobahn conformance suite exercises
/// exactly the frame machinery clients get.
///
/// With permessage-deflate agreed, messages with RSV1 set are inflated (the size limit applies to the inflated size)
/// and outgoing messages of at least `websocket.compression_min_bytes` are compressed (see ``PerMessageDeflate``).
final class WebSocketConnectionHandler: HandedOffConnectionHandler {
    typealias InboundIn = WebSocketFrame
    /// Frames leave as wire bytes (``WebSocketFraming``): a publication's frame is built once and shared by every
    /// subscriber, so NIO's `WebSocketFrameEncoder` is not in the pipeline.
    typealias OutboundOut = ByteBuffer

    /// Limits and metrics for this connection, and what its endpoint's session needs.
    let services: StreamServices
    let output: WebSocketOutput
    /// The `transport` label of this connection's metrics.
    private let transportKind: TransportKind
    private var machine: WebSocketConnectionStateMachine
    /// Made at the end of `init`: the endpoint refers back to this handler.
    private var endpoint: (any WebSocketEndpoint)!
    private var context: ChannelHandlerContext?
    private let deflate: PerMessageDeflateAgreement?
    /// The client keeps its compression context: this connection needs its own inflater (made on first use).
    private var connectionInflater: MessageInflater?
    /// Pongs and echoes written during this read burst, flushed at its end.
    private var flushAtReadComplete = false
    private var drainDeadline = DrainDeadline()
    /// Running while a fragmented message is incomplete (``WebSocketConnectionStateMachine/messageTimerFired()``).
    private var messageTimer: Scheduled<Void>?

    init(mode: WebSocketMode, services: StreamServices, identity: Identity?, deflate: PerMessageDeflateAgreement? = nil, messagePack: Bool = false) {
        self.services = services
        self.transportKind = mode.transportKind
        self.deflate = deflate
        self.output = WebSocketOutput(settings: services.settings, metrics: services.metrics, deflate: deflate, messagePack: messagePack)
        self.machine = WebSocketConnectionStateMachine(maxMessageBytes: services.settings.limits.maxMessageBytes, compressionAgreed: deflate != nil)
        self.endpoint = mode.endpoint(on: self, identity: identity, messagePack: messagePack)
    }

    /// Whether messages still go out: no close frame sent and the connection not failed.
    var isOpen: Bool { machine.isOpen }

    // MARK: lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        output.attach(to: context)
        _ = machine.writabilityChanged(isWritable: context.channel.isWritable)
        endpoint.start(context: context)
    }

    func finish() {
        machine.channelClosed()
        drainDeadline.cancel()
        cancelMessageTimer()
        connectionInflater = nil
        output.discard()
        endpoint.stop()
        // The context holds this handler: keeping it would make a cycle that outlives the connection (~1 KB each).
        context = nil
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let writable = context.channel.isWritable
        output.pipe.socketWritable = writable
        if case .sendPong(let payload) = machine.writabilityChanged(isWritable: writable) {
            context.writeAndFlush(wrapOutboundOut(WebSocketFraming.frame(payload, opcode: .pong, allocator: context.channel.allocator)), promise: nil)
        }
        if writable { output.pipe.drain(context: context) }
        endpoint.writabilityChanged(writable, context: context)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The frame decoder refused what it read: answer with the matching close code (the close follows the frame).
        if let error = error as? NIOWebSocketError {
            let failure =
                error == .invalidFrameLength
                ? WebSocketFailure(.messageTooLarge, "frame larger than \(services.settings.limits.maxMessageBytes) bytes")
                : WebSocketFailure(.protocolError, "malformed frame")
            services.metrics.error(failure.code == .messageTooLarge ? .messageTooLarge : .badRequest)
            if machine.isOpen { return fail(failure) }
        }
        context.close(promise: nil)
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        endpoint.noteInbound()
        switch machine.frameReceived(WebSocketInboundFrame(frame)) {
        case .doNothing:
            break
        case .sendPong(let payload):
            context.write(wrapOutboundOut(WebSocketFraming.frame(payload, opcode: .pong, allocator: context.channel.allocator)), promise: nil)
            flushAtReadComplete = true
        case .startMessageTimer:
            startMessageTimer(context: context)
        case .deliver(let message):
            cancelMessageTimer()
            deliver(message)
        case .replyToClose(let code):
            ConnectionClosing.close(context: context, after: wrapOutboundOut(WebSocketFraming.closeFrame(code, reason: "")), timeout: .seconds(1))
        case .closeChannel:
            context.close(promise: nil)
        case .fail(let failure):
            if failure.code == .messageTooLarge { services.metrics.error(.messageTooLarge) }
            cancelMessageTimer()
            closeAbruptly(failure.code, reason: failure.reason, context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if flushAtReadComplete {
            flushAtReadComplete = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    /// A complete message: inflated when compressed (then checked as UTF-8 when text), then the endpoint's.
    private func deliver(_ message: WebSocketMessage) {
        guard message.isCompressed else { return endpoint.receive(message.payload, isText: message.isText) }
        guard let inflated = inflate(message.payload) else { return }
        if message.isText, let failure = WebSocketMessageAssembler.inflatedTextFailure(inflated) { return fail(failure) }
        endpoint.receive(inflated, isText: message.isText)
    }

    /// Nil when the connection was failed (zip bomb: 1009; not deflate: 1007).
    private func inflate(_ compressed: ByteBuffer) -> ByteBuffer? {
        guard let deflate, let loopCodecs = output.loopCodecs else { return nil }
        let limit = services.settings.limits.maxMessageBytes
        do {
            let inflater: MessageInflater
            if deflate.clientNoContextTakeover {
                inflater = try loopCodecs.inflater()
            } else {
                if connectionInflater == nil { connectionInflater = try MessageInflater(keepsContext: true) }
                inflater = connectionInflater!
            }
            return try inflater.inflate(compressed, limit: limit, allocator: context?.channel.allocator ?? ByteBufferAllocator())
        } catch PerMessageDeflate.InflateError.tooLarge {
            services.metrics.error(.messageTooLarge)
            fail(WebSocketFailure(.messageTooLarge, "inflated message larger than \(limit) bytes"))
        } catch {
            fail(WebSocketFailure(.invalidPayload, "compressed message is not valid deflate data"))
        }
        return nil
    }

    private func startMessageTimer(context: ChannelHandlerContext) {
        let limit = TimeAmount(services.settings.limits.messageTimeout)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        messageTimer = context.eventLoop.scheduleTask(in: limit) { handler.value.messageTimerFired() }
    }

    private func messageTimerFired() {
        messageTimer = nil
        guard let context, case .sendClose(let code, let reason) = machine.messageTimerFired() else { return }
        closeAbruptly(code, reason: reason, context: context)
    }

    private func cancelMessageTimer() {
        messageTimer?.cancel()
        messageTimer = nil
    }

    // MARK: outbound, for endpoints

    /// Writes one message; false when the outbound queue overflowed (the slow-consumer close is under way). Callers
    /// check ``isOpen`` first.
    /// - Parameter sharedFrame: `payload` already framed and shared with other connections.
    @inline(__always)
    func send(_ payload: ByteBuffer, sharedFrame: ByteBuffer? = nil, tag: @autoclosure () -> QueueTag? = nil) -> Bool {
        guard let context, output.emit(payload, frame: sharedFrame, tag: tag(), context: context) else {
            noteSlowConsumer()
            disconnect(.slowConsumer)
            return false
        }
        return true
    }

    /// A publication for the session's client: written (as ``send(_:sharedFrame:tag:)``) while the connection is open.
    /// False when it is not, or when the queue overflowed. The endpoints call this once per delivery rather than
    /// ``isOpen`` and then ``send(_:sharedFrame:tag:)``: every call through their `unowned(unsafe)` reference retains
    /// and releases the handler, and reading ``isOpen`` from outside this file costs a dynamic exclusivity check.
    /// Inlined into the endpoints' delivery, as are ``send(_:sharedFrame:tag:)`` and
    /// ``WebSocketOutput/emit(_:frame:tag:context:)``: it runs once per delivery at thousands of subscribers, and each
    /// call boundary costs retains and releases of the buffers passed along.
    @inline(__always)
    func sendPublication(_ payload: ByteBuffer, sharedFrame: ByteBuffer?, tag: @autoclosure () -> QueueTag?) -> Bool {
        guard machine.isOpen else { return false }
        return send(payload, sharedFrame: sharedFrame, tag: tag())
    }

    /// Writes a message straight back (echo), flushed at the end of the read burst.
    func echo(_ message: ByteBuffer, isText: Bool) {
        guard let context else { return }
        context.write(wrapOutboundOut(output.dataFrame(message, opcode: isText ? .text : .binary)), promise: nil)
        flushAtReadComplete = true
    }

    /// The heartbeat's ping frame. A socket that takes nothing gets no more pings piled up; the heartbeat timeout
    /// deals with it.
    func sendPing() {
        guard let context, machine.isOpen else { return }
        if output.pipe.socketWritable { context.write(wrapOutboundOut(WebSocketOutput.pingFrame), promise: nil) }
    }

    /// The heartbeat's ping for an endpoint without a session (`/yjs/{room}`), flushed at once: ``flush()`` only
    /// flushes what went through the outbound pipe, and an idle room sends nothing else that would carry it out.
    func sendPingNow() {
        guard let context, machine.isOpen, output.pipe.socketWritable else { return }
        context.writeAndFlush(wrapOutboundOut(WebSocketOutput.pingFrame), promise: nil)
    }

    func flush() {
        guard let context else { return }
        if !output.flush(context: context) {
            noteSlowConsumer()
            disconnect(.slowConsumer)
        }
    }

    private func noteSlowConsumer() {
        if let session = endpoint.session {
            session.noteSlowConsumer(.outboundQueueFull)
        } else {
            services.metrics.slowConsumerDisconnected(transportKind, .outboundQueueFull)
        }
    }

    /// Fails the connection: a close frame with the failure's code, then close without waiting for the peer.
    func fail(_ failure: WebSocketFailure) {
        cancelMessageTimer()
        guard let context, case .sendClose(let code, let reason) = machine.fail(failure) else { return }
        closeAbruptly(code, reason: reason, context: context)
    }

    /// Abrupt close for the session (slow consumer, dead link, protocol abuse): nothing more is queued, the endpoint's
    /// goodbye tells the peer why, then the close frame. Bytes are ordered on a TCP stream, so the goodbye cannot
    /// overtake frames already handed to the socket; the socket closes once the close frame has left or after
    /// `limits.close_timeout_ms`, so a peer that reads again gets its close code, not a bare end of stream.
    func disconnect(_ code: CloseCode) {
        guard let context, case .sendClose = machine.fail(WebSocketFailure(code, code.reason)) else { return }
        closeAbruptly(
            code, reason: code.reason, goodbye: endpoint.goodbye(code), timeout: TimeAmount(services.settings.limits.closeTimeout), context: context)
    }

    private func closeAbruptly(
        _ code: CloseCode, reason: String, goodbye: ByteBuffer? = nil, timeout: TimeAmount = .seconds(1), context: ChannelHandlerContext
    ) {
        output.discardQueue(context: context)
        if let goodbye { context.write(wrapOutboundOut(WebSocketFraming.frame(goodbye, opcode: output.messageOpcode)), promise: nil) }
        ConnectionClosing.close(context: context, after: wrapOutboundOut(WebSocketFraming.closeFrame(code, reason: reason)), timeout: timeout)
    }

    /// Shutdown: queued publications go out first, then the endpoint's goodbye and the close frame; the connection
    /// closes on the peer's close reply or after the drain timeout.
    func startDrain(context: ChannelHandlerContext) {
        guard machine.isOpen else { return }
        if let goodbye = endpoint.goodbye(.shutdown) { _ = send(goodbye) }
        // The goodbye may have overflowed the queue: the slow-consumer close then took over.
        guard case .sendClose(let code, let reason) = machine.quiesce() else { return }
        let closeFrame = WebSocketFraming.closeFrame(code, reason: reason)
        guard output.writeBatch(context: context), output.pipe.write(closeFrame, size: 0, context: context) else {
            context.close(promise: nil)
            return
        }
        output.pipe.flush(context: context)
        drainDeadline.start(services.settings.drainTimeout, context: context)
    }
}

@available(*, unavailable) extension WebSocketConnectionHandler: Sendable {}

import NIOCore
import SwitchboardCore

/// A Server-Sent Events stream after its response head: carries a ``Session``'s output as events whose `id:` holds
/// every channel's position, so the browser's automatic `Last-Event-ID` resumes them all.
///
/// Two modes share it: `/connection/sse` (protocol pushes as JSON in `data:`) and `/raw/sse/{channel}` (bare
/// publication data). The response is delimited by the connection closing, so event bytes need no chunk framing and
/// the shared event buffer goes to the socket as it is.
final class SSESessionHandler: HandedOffConnectionHandler, SessionTransport {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Stream {
        var channels: [ChannelName]
        /// Positions to resume from, one per channel (nil: start fresh).
        var since: [StreamPosition?]
        /// Why the requested resume position was unusable, when it was (garbage `Last-Event-ID`).
        var invalidResume: Bool
        var raw: Bool
        /// Who opened the stream (token verified before the response), nil when anonymous.
        var identity: Identity? = nil
        /// Origin to allow in `access-control-allow-origin`, when the request's origin may read the stream.
        var allowOrigin: String? = nil
    }

    private let stream: Stream
    private let services: StreamServices
    private var context: ChannelHandlerContext?
    private var session: Session?
    private let pipe: OutboundPipe
    private var positions: [StreamPosition?]
    private var channelIndex: [ChannelName: Int] = [:]
    private var closing = false
    private var drainDeadline = DrainDeadline()

    init(stream: Stream, services: StreamServices) {
        self.stream = stream
        self.services = services
        self.positions = stream.since
        for (index, channel) in stream.channels.enumerated() { channelIndex[channel] = index }
        self.pipe = OutboundPipe(
            maxBytes: services.settings.limits.outboundQueueBytes,
            maxMessages: services.settings.limits.outboundQueueMessages,
            metrics: services.metrics
        )
    }

    static func responseHead(retry: Duration, allowOrigin: String?) -> ByteBuffer {
        var head = ByteBuffer(
            string: "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache, no-transform\r\n"
                + "x-accel-buffering: no\r\nconnection: close\r\n"
        )
        if let allowOrigin {
            // Credentials allowed so `new EventSource(url, {withCredentials: true})` can send the token cookie.
            head.writeString("access-control-allow-origin: \(allowOrigin)\r\naccess-control-allow-credentials: true\r\nvary: origin\r\n")
        }
        head.writeString("\r\n")
        let milliseconds = retry.components.seconds * 1000 + retry.components.attoseconds / 1_000_000_000_000_000
        head.writeString("retry: \(milliseconds)\n\n")
        return head
    }

    // MARK: lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        pipe.socketWritable = context.channel.isWritable
        if !stream.raw {
            pipe.gapNotice = { channel in
                let event = SSEFraming.dataEvent(Pushes.conflated(channel: channel))
                return (event, event.readableBytes)
            }
        }
        let session = Session(
            kind: stream.raw ? .rawSSE : .sse,
            services: services.session,
            loopHub: services.hub.loopHub(for: context.eventLoop),
            transport: self,
            identity: stream.identity,
            userAdmitted: true,
            remoteAddress: context.channel.remoteAddress?.ipAddress
        )
        self.session = session
        var head = Self.responseHead(retry: services.settings.configuration.sseRetry, allowOrigin: stream.allowOrigin)
        if let address = session.address {
            // The session id is what `POST /connection/{session}/command` addresses: the stream's command channel.
            var announcement = SSEFraming.dataEvent(Pushes.session(id: address))
            head.writeBuffer(&announcement)
        }
        context.writeAndFlush(wrapOutboundOut(head), promise: nil)
        if stream.invalidResume { services.metrics.error(.invalidPosition) }
        for (channel, since) in zip(stream.channels, stream.since) {
            session.subscribeFromStream(channel, since: since)
        }
    }

    func finish() {
        closing = true
        drainDeadline.cancel()
        pipe.discard()
        session?.close()
        session = nil
        // The context holds this handler: keeping it would make a cycle that outlives the connection (~1 KB each).
        context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Nothing is expected from an SSE client after its request; bytes are ignored.
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        pipe.socketWritable = context.channel.isWritable
        if pipe.socketWritable {
            pipe.drain(context: context)
            if closing && pipe.isEmpty {
                ConnectionClosing.close(context: context, after: wrapOutboundOut(ByteBuffer()), timeout: services.settings.drainTimeout)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: outbound (SessionTransport)

    var bytesSent: Int? { pipe.bytesAccepted }

    private func write(_ buffer: ByteBuffer, tag: @autoclosure () -> QueueTag? = nil) -> Bool {
        guard let context, !closing else { return false }
        guard pipe.write(buffer, size: buffer.readableBytes, context: context, tag: tag()) else {
            session?.noteSlowConsumer(.outboundQueueFull)
            disconnect(.slowConsumer)
            return false
        }
        return true
    }

    private func idLine() -> ByteBuffer {
        SSEFraming.idLine(SSEEventID.encode(positions), allocator: context?.channel.allocator ?? ByteBufferAllocator())
    }

    func send(publication: EncodedPublication, conflates: Bool) -> Bool {
        guard let index = channelIndex[publication.channel] else {
            // Subscribed by command: the client tracks that channel's position from the pushes; the `id:` line only
            // carries the positions of the channels named in the URL, which EventSource resumes on its own.
            return !stream.raw && write(publication.sseEvent, tag: publication.queueTag(conflates: conflates))
        }
        positions[index] = publication.publication.position
        if positions.count == 1 {
            // One channel in the URL: the id is the publication's own position, so the whole event is shared.
            let events = publication.singleChannelSSEEvents
            return write(stream.raw ? events.raw : events.json, tag: publication.queueTag(conflates: conflates))
        }
        let body = stream.raw ? publication.rawSSEEvent : publication.sseEvent
        if context != nil, pipe.isEmpty, pipe.socketWritable {
            // Straight to the socket: the shared event buffer is written as it is, after this connection's id line.
            return write(idLine()) && write(body)
        }
        // Waiting: one buffer per event, so an event and its id line are conflated or reordered as one.
        var event = idLine()
        var shared = body
        event.writeBuffer(&shared)
        return write(event, tag: publication.queueTag(conflates: conflates))
    }

    func send(message: ByteBuffer) {
        guard !stream.raw else { return }
        _ = write(SSEFraming.dataEvent(message))
    }

    func subscriptionStarted(_ channel: ChannelName, recovery: Recovery) {
        guard let index = channelIndex[channel] else { return }
        let resumeRequested = stream.invalidResume || stream.since[index] != nil
        var recovery = recovery
        if stream.invalidResume { recovery.outcome = .reset(.invalidPosition) }
        // After a successful resume the recovered publications follow this event, each advancing the id: the start
        // event must still name the requested position, or a drop right after it would skip them on the next resume.
        positions[index] = recovery.recovered ? stream.since[index] : recovery.position
        let isReset = resumeRequested && !recovery.recovered
        guard write(idLine()) else { return }
        if stream.raw {
            // Plain EventSource code only hears about a reset; an id line alone sets Last-Event-ID without an event.
            if isReset {
                _ = write(SSEFraming.dataEvent(Pushes.streamStart(type: "reset", channel: channel, recovery: recovery), event: "reset"))
            } else {
                _ = write(ByteBuffer(string: "\n"))
            }
        } else {
            _ = write(SSEFraming.dataEvent(Pushes.streamStart(type: isReset ? "reset" : "subscribed", channel: channel, recovery: recovery)))
        }
    }

    /// A channel named in the URL gets a `reset` event whose `id:` moves to the new position, so a later resume starts
    /// there; other channels (subscribed by command) get the push like any message.
    func subscriptionReset(_ channel: ChannelName, recovery: Recovery) -> Bool {
        guard let index = channelIndex[channel] else { return false }
        positions[index] = recovery.position
        guard write(idLine()) else { return true }
        let push = Pushes.streamStart(type: "reset", channel: channel, recovery: recovery)
        _ = write(stream.raw ? SSEFraming.dataEvent(push, event: "reset") : SSEFraming.dataEvent(push))
        return true
    }

    var answersHeartbeats: Bool { false }

    func sendHeartbeat() {
        _ = write(SSEFraming.heartbeat)
    }

    func flush() {
        guard let context else { return }
        pipe.flush(context: context)
    }

    func disconnect(_ code: CloseCode) {
        guard let context, !closing else { return }
        closing = true
        pipe.discardQueue(context: context)
        // Behind what the socket already holds; a peer that reads again within the close timeout still gets it.
        ConnectionClosing.close(
            context: context, after: wrapOutboundOut(disconnectEvent(code)), timeout: TimeAmount(services.settings.limits.closeTimeout))
    }

    private func disconnectEvent(_ code: CloseCode) -> ByteBuffer {
        SSEFraming.dataEvent(Pushes.disconnect(code), event: stream.raw ? "disconnect" : nil)
    }

    /// Shutdown: queued events go out first, then the disconnect advice; the stream ends when drained or after the
    /// drain timeout. EventSource reconnects by itself (after `retry`) with `Last-Event-ID`.
    func startDrain(context: ChannelHandlerContext) {
        guard !closing else { return }
        if pipe.isEmpty && context.channel.isWritable {
            closing = true
            ConnectionClosing.close(context: context, after: wrapOutboundOut(disconnectEvent(.shutdown)), timeout: services.settings.drainTimeout)
        } else {
            guard write(disconnectEvent(.shutdown)) else { return }
            closing = true
            pipe.flush(context: context)
            drainDeadline.start(services.settings.drainTimeout, context: context)
        }
    }
}

@available(*, unavailable) extension SSESessionHandler: Sendable {}

import NIOCore
import SwitchboardBroker
import SwitchboardCore
import SwitchboardYjs

/// `/yjs/{room}`: the y-websocket protocol, as the unmodified `y-websocket` client (`WebsocketProvider`) speaks it.
///
/// On connect the server sends its sync step 1 (the room's state vector) and the room's awareness states. A client's
/// step 1 is answered with step 2 (exactly what the client lacks) and the server's own step 1, so edits made offline on
/// either side are exchanged. Step 2 and update messages are decoded in full before the room stores them and hands
/// them to the other connections; awareness is relayed as it came and answered on query-awareness. A client without
/// the write capability has its updates dropped and answered with the permission-denied auth message.
///
/// A room not in memory is read from the engine first, off the event loop and within `engine.call_timeout_ms`: the
/// connection stops reading meanwhile, and the messages it had already read are handled in order once the room is
/// there. A room that cannot be read closes the connection with 1011 and the engine's error kind.
///
/// Bad input closes the connection, and the room is left as it was (docs/yjs.md): text frames 1003, anything that
/// does not decode 1007 with the reason, an update over `yjs_max_update_bytes` 1009, a document past
/// `yjs_max_document_bytes` 4510.
final class WebSocketYjsEndpoint: WebSocketEndpoint {
    private unowned(unsafe) let connection: WebSocketConnectionHandler
    private let roomName: ChannelName
    private let options: NamespaceOptions
    /// Set once the connection joined the room (after the room was read from the engine, if it had to be).
    private var room: YjsRoom?
    private let canWrite: Bool
    private var peerID: Int?
    /// Messages read while the room was loading, handled in order once it is there.
    private var waiting: [ByteBuffer] = []
    /// The channel is gone (``stop()``): a room that finishes loading afterwards must not touch the connection.
    private var stopped = false
    /// The connection's event loop, known from ``start(context:)``.
    private var eventLoop: (any EventLoop)!

    /// A room peer, not a session: no commands, subscriptions or outbound queue of a session's.
    var session: Session? { nil }
    /// The heartbeat: a ping every `heartbeat.interval`, and a close (4003) when nothing came back within
    /// `heartbeat.timeout`, so a client that vanished without a close leaves the room (and its awareness) in time.
    private var heartbeat: Scheduled<Void>?
    private var inboundSincePing = true
    private var awaitingAnswer = false

    init(connection: WebSocketConnectionHandler, room: ChannelName, options: NamespaceOptions, canWrite: Bool) {
        self.connection = connection
        self.roomName = room
        self.options = options
        self.canWrite = canWrite
    }

    func start(context: ChannelHandlerContext) {
        eventLoop = context.eventLoop
        open(channel: context.channel, eventLoop: context.eventLoop)
    }

    /// Joins the room at once when it is in memory; otherwise stops reading until the engine has answered.
    private func open(channel: any Channel, eventLoop: any EventLoop) {
        let endpoint = NIOLoopBound(self, eventLoop: eventLoop)
        let ready = connection.services.yjsRooms.open(roomName, options: options) { result in
            eventLoop.execute { endpoint.value.loaded(result, channel: channel, eventLoop: eventLoop) }
        }
        if let ready {
            join(ready, channel: channel, eventLoop: eventLoop)
        } else {
            // Backpressure while the engine reads: only the messages already read wait in `waiting`.
            try? channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        }
    }

    private func loaded(_ result: Result<YjsRoom, EngineError>, channel: any Channel, eventLoop: any EventLoop) {
        guard !stopped else { return }
        switch result {
        case .success(let room):
            join(room, channel: channel, eventLoop: eventLoop)
        case .failure(let error):
            waiting = []
            connection.fail(WebSocketFailure(.internalError, "yjs: the room could not be loaded: engine \(error.kind)"))
        }
    }

    private func join(_ room: YjsRoom, channel: any Channel, eventLoop: any EventLoop) {
        // Messages from other connections arrive on their event loops; each is carried over to this one.
        let endpoint = NIOLoopBound(self, eventLoop: eventLoop)
        guard
            let welcome = room.join(deliver: { message in
                eventLoop.execute { endpoint.value.deliver(message) }
            })
        else {
            // Dropped from memory between loading and joining: read it again.
            return open(channel: channel, eventLoop: eventLoop)
        }
        self.room = room
        peerID = welcome.peerID
        send(YjsSyncMessage.encodeSyncStep1(welcome.stateVector))
        if let awareness = welcome.awareness { send(awareness) }
        connection.flush()
        scheduleHeartbeat(after: connection.services.settings.heartbeat.interval, on: eventLoop)
        let waiting = self.waiting
        self.waiting = []
        for message in waiting where connection.isOpen { receive(message, isText: false) }
        try? channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
    }

    func noteInbound() { inboundSincePing = true }

    private func scheduleHeartbeat(after delay: TimeAmount, on eventLoop: any EventLoop) {
        let endpoint = NIOLoopBound(self, eventLoop: eventLoop)
        heartbeat = eventLoop.scheduleTask(in: delay) { endpoint.value.heartbeatFired(on: eventLoop) }
    }

    /// Alternates: a ping, then `timeout` later the check that something came in since, then the next ping
    /// `interval` later.
    private func heartbeatFired(on eventLoop: any EventLoop) {
        guard peerID != nil else { return }
        let settings = connection.services.settings.heartbeat
        if awaitingAnswer {
            guard inboundSincePing else {
                connection.services.metrics.heartbeatTimeouts.increment()
                return connection.disconnect(.heartbeatTimeout)
            }
            awaitingAnswer = false
            scheduleHeartbeat(after: settings.interval, on: eventLoop)
        } else {
            inboundSincePing = false
            awaitingAnswer = true
            connection.sendPingNow()
            scheduleHeartbeat(after: settings.timeout, on: eventLoop)
        }
    }

    func receive(_ message: ByteBuffer, isText: Bool) {
        guard !isText else {
            return connection.fail(WebSocketFailure(.unsupportedData, "y-websocket messages are binary frames"))
        }
        guard let room else { return waiting.append(message) }
        let bytes = Array(message.readableBytesView)
        let decoded: YjsSyncMessage
        do {
            decoded = try YjsSyncMessage(decoding: bytes)
        } catch {
            return refuse("\(error)")
        }
        switch decoded {
        case .syncStep1(let stateVector):
            if let persistence = room.persistence {
                // The answer is the acknowledgement: it goes out once what the room accepted so far is in the engine.
                let eventLoop: any EventLoop = self.eventLoop
                let endpoint = NIOLoopBound(self, eventLoop: eventLoop)
                Task {
                    let stored = await persistence.stored(room.name)
                    eventLoop.execute { endpoint.value.answerOnceStored(stateVector, in: room, stored) }
                }
            } else {
                answer(stateVector, in: room)
            }
        case .syncStep2(let update), .update(let update):
            store(update, in: room)
        case .awareness(let update):
            if let peerID { room.relayAwareness(update, message: bytes, from: peerID) }
        case .queryAwareness:
            if let awareness = room.awarenessSnapshot() { send(awareness) }
        }
        connection.flush()
    }

    /// Sync step 2 with what a peer with `stateVector` lacks, then the room's own step 1.
    private func answer(_ stateVector: YStateVector, in room: YjsRoom) {
        let answer = room.answerSyncStep1(stateVector)
        for diff in answer.diffs { send(YjsSyncMessage.encodeSyncStep2(diff)) }
        send(YjsSyncMessage.encodeSyncStep1(answer.stateVector))
    }

    private func answerOnceStored(_ stateVector: YStateVector, in room: YjsRoom, _ stored: Result<Void, EngineError>) {
        guard !stopped, connection.isOpen else { return }
        switch stored {
        case .success:
            answer(stateVector, in: room)
            connection.flush()
        case .failure(let error):
            connection.fail(WebSocketFailure(.internalError, "yjs: the room could not be stored: engine \(error.kind)"))
        }
    }

    private func store(_ update: [UInt8], in room: YjsRoom) {
        let limit = room.options.yjsMaxUpdateBytes
        guard update.count <= limit else {
            return connection.fail(WebSocketFailure(.messageTooLarge, "yjs update over \(limit) bytes"))
        }
        do {
            let decoded = try YUpdate(decoding: update)
            // An empty update (what a client with nothing to add answers to the server's step 1) changes nothing.
            guard !decoded.structs.isEmpty || !decoded.deleteSet.isEmpty else { return }
        } catch {
            return refuse("\(YjsMessageError(.malformedUpdate, error))")
        }
        guard canWrite else {
            send(YjsSyncMessage.encodePermissionDenied("read-only: this token may not edit the document"))
            return
        }
        guard let peerID else { return }
        do {
            try room.apply(update, from: peerID)
        } catch {
            connection.fail(WebSocketFailure(.documentTooLarge, CloseCode.documentTooLarge.reason))
        }
    }

    /// Closes with 1007 and the decoding error (cut to fit a close frame's 123 bytes).
    private func refuse(_ reason: String) {
        var text = "yjs: \(reason)"
        while text.utf8.count > 120 { text.removeLast() }
        connection.fail(WebSocketFailure(.invalidPayload, text))
    }

    private func send(_ message: [UInt8]) {
        _ = connection.sendPublication(ByteBuffer(bytes: message), sharedFrame: nil, tag: nil)
    }

    /// A message from the room (another connection's update or awareness), on this connection's event loop. One that
    /// arrives after ``stop()`` is dropped: the connection may be gone by then.
    private func deliver(_ message: [UInt8]) {
        guard peerID != nil else { return }
        send(message)
        connection.flush()
    }

    func goodbye(_ code: CloseCode) -> ByteBuffer? { nil }

    func writabilityChanged(_ isWritable: Bool, context: ChannelHandlerContext) {}

    func stop() {
        stopped = true
        waiting = []
        heartbeat?.cancel()
        heartbeat = nil
        if let peerID { room?.leave(peerID) }
        peerID = nil
    }
}

@available(*, unavailable) extension WebSocketYjsEndpoint: Sendable {}

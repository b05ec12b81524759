public import NIOCore

/// The rules of one server-side WebSocket connection, with no I/O: which client frames are legal, how the close
/// handshake runs, and which pong is owed. Each event returns the action the channel handler carries out.
///
/// The connection is `open` until the server sends a close frame of its own (`closeSent`, waiting for the peer's
/// reply) or the connection ends (`closed`: the peer closed, the server failed the connection, or the channel went
/// away). Only `open` takes data; afterwards a peer's close frame is the one frame that still means something.
///
/// Pongs obey the socket's bound like everything else sent: while the socket takes no bytes, only the latest ping is
/// remembered, and answered once it drains (RFC 6455 section 5.5.3 allows answering only the most recent ping), so a
/// client that pings without reading costs one pending pong.
public struct WebSocketConnectionStateMachine: Sendable {
    public enum State: Equatable, Sendable {
        case open
        /// The server sent its close frame and waits for the peer's.
        case closeSent
        case closed
    }

    public private(set) var state = State.open
    private var assembler: WebSocketMessageAssembler
    /// permessage-deflate was agreed, which gives RSV1 a meaning on a data message's first frame.
    private let compressionAgreed: Bool
    private var socketWritable: Bool
    /// The payload of the latest ping that arrived while the socket was full.
    private var pendingPong: ByteBuffer?

    public init(maxMessageBytes: Int, compressionAgreed: Bool, socketWritable: Bool = true) {
        self.assembler = WebSocketMessageAssembler(maxMessageBytes: maxMessageBytes)
        self.compressionAgreed = compressionAgreed
        self.socketWritable = socketWritable
    }

    public var isOpen: Bool { state == .open }

    // MARK: frames

    public enum FrameAction: Equatable, Sendable {
        case doNothing
        /// Answer a ping now (flushed with the read burst).
        case sendPong(ByteBuffer)
        /// A fragmented message began: start its completion timer.
        case startMessageTimer
        /// A complete message; a completion timer, if one runs, is done.
        case deliver(WebSocketMessage)
        /// The peer started the close handshake: answer with a close frame carrying this code, then close.
        case replyToClose(CloseCode)
        /// The peer answered (or ignored) the server's close: close the channel now.
        case closeChannel
        /// The frame broke a rule: send a close frame with this code and reason, then close.
        case fail(WebSocketFailure)
    }

    /// A frame arrived.
    public mutating func frameReceived(_ frame: WebSocketInboundFrame) -> FrameAction {
        guard case .open = state else { return frame.opcode == .close ? closeReceived(frame.payload) : .doNothing }
        guard frame.isMasked else { return fail(.protocolError, "client frames must be masked") }
        // RSV1 means "compressed" on the first frame of a data message once permessage-deflate is agreed; any other
        // reserved bit, or RSV1 anywhere else, has no meaning here (RFC 6455 section 5.2, RFC 7692 section 6).
        let compressedStart = frame.rsv1 && compressionAgreed && (frame.opcode == .text || frame.opcode == .binary)
        guard !frame.rsv2, !frame.rsv3, !frame.rsv1 || compressedStart else {
            return fail(.protocolError, "reserved bits set without an extension")
        }
        switch frame.opcode {
        case .close:
            return closeReceived(frame.payload)
        case .ping:
            guard socketWritable else {
                pendingPong = frame.payload
                return .doNothing
            }
            return .sendPong(frame.payload)
        case .pong:
            return .doNothing
        case .text, .binary:
            return assembled(assembler.first(frame.payload, isText: frame.opcode == .text, compressed: compressedStart, fin: frame.fin))
        case .continuation:
            return assembled(assembler.continuation(frame.payload, fin: frame.fin))
        case .reserved:
            return fail(.protocolError, "unknown opcode")
        }
    }

    private mutating func assembled(_ step: WebSocketMessageAssembler.Step) -> FrameAction {
        switch step {
        case .started: return .startMessageTimer
        case .continued: return .doNothing
        case .complete(let message): return .deliver(message)
        case .failed(let failure): return fail(failure.code, failure.reason)
        }
    }

    /// The peer's close frame: answered with its own code when that is valid, else with the error it made.
    private mutating func closeReceived(_ payload: ByteBuffer) -> FrameAction {
        guard case .open = state else {
            state = .closed
            return .closeChannel
        }
        state = .closed
        assembler.reset()
        var data = payload
        switch data.readableBytes {
        case 0:
            return .replyToClose(.normal)
        case 1:
            return .replyToClose(.protocolError)
        default:
            let code = data.readInteger(as: UInt16.self)!
            guard CloseCode.isValidFromPeer(code) else { return .replyToClose(.protocolError) }
            guard UTF8Validation.isValid(data.readableBytesView) else { return .replyToClose(.invalidPayload) }
            return .replyToClose(CloseCode(code, ""))
        }
    }

    private mutating func fail(_ code: CloseCode, _ reason: String) -> FrameAction {
        let failure = WebSocketFailure(code, reason)
        guard case .sendClose = fail(failure) else { return .doNothing }
        return .fail(failure)
    }

    // MARK: the server's side

    public enum CloseAction: Equatable, Sendable {
        /// Send a close frame with this code and reason (after what is already written).
        case sendClose(CloseCode, reason: String)
        /// The connection is already closing: nothing more goes out.
        case doNothing
    }

    /// Graceful shutdown (Hummingbird's quiesce): the server sends its close frame and waits for the peer's reply.
    public mutating func quiesce() -> CloseAction {
        guard case .open = state else { return .doNothing }
        state = .closeSent
        pendingPong = nil
        return .sendClose(.shutdown, reason: CloseCode.shutdown.reason)
    }

    /// The server closes without waiting for the peer: a rule broken, a message refused, a slow consumer, a dead link.
    public mutating func fail(_ failure: WebSocketFailure) -> CloseAction {
        guard case .open = state else { return .doNothing }
        state = .closed
        assembler.reset()
        return .sendClose(failure.code, reason: failure.reason)
    }

    /// A fragmented message was not completed within `limits.message_timeout_ms`: a trickle of continuation frames
    /// (each one heartbeat traffic) must not hold a message buffer forever.
    public mutating func messageTimerFired() -> CloseAction {
        fail(WebSocketFailure(.policyViolation, "message not completed within limits.message_timeout_ms"))
    }

    public enum WritabilityAction: Equatable, Sendable {
        /// Answer the ping held back while the socket was full, and flush.
        case sendPong(ByteBuffer)
        case doNothing
    }

    /// The socket's writability changed (NIO's watermarks).
    public mutating func writabilityChanged(isWritable: Bool) -> WritabilityAction {
        socketWritable = isWritable
        guard isWritable, case .open = state, let payload = pendingPong else { return .doNothing }
        pendingPong = nil
        return .sendPong(payload)
    }

    /// The channel went away: nothing more is sent or assembled.
    public mutating func channelClosed() {
        state = .closed
        assembler.reset()
        pendingPong = nil
    }
}

/// A client's WebSocket frame as ``WebSocketConnectionStateMachine`` reads it: the header bits and the unmasked payload.
public struct WebSocketInboundFrame: Sendable {
    public enum Opcode: Equatable, Sendable {
        case continuation, text, binary, close, ping, pong
        /// Opcodes 0x3–0x7 and 0xB–0xF, which no extension here defines.
        case reserved

        public init(_ rawValue: UInt8) {
            switch rawValue {
            case 0x0: self = .continuation
            case 0x1: self = .text
            case 0x2: self = .binary
            case 0x8: self = .close
            case 0x9: self = .ping
            case 0xA: self = .pong
            default: self = .reserved
            }
        }
    }

    public var opcode: Opcode
    public var fin: Bool
    public var rsv1: Bool
    public var rsv2: Bool
    public var rsv3: Bool
    /// Whether the client masked the frame, as RFC 6455 section 5.1 requires of every client frame.
    public var isMasked: Bool
    public var payload: ByteBuffer

    public init(
        opcode: Opcode, fin: Bool = true, rsv1: Bool = false, rsv2: Bool = false, rsv3: Bool = false, isMasked: Bool = true,
        payload: ByteBuffer
    ) {
        self.opcode = opcode
        self.fin = fin
        self.rsv1 = rsv1
        self.rsv2 = rsv2
        self.rsv3 = rsv3
        self.isMasked = isMasked
        self.payload = payload
    }
}

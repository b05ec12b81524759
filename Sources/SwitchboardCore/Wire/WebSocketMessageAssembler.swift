public import NIOCore

/// Joins a client's data frames into messages (RFC 6455 section 5.4) under a size limit, checking text as it arrives.
///
/// Uncompressed text is validated frame by frame, so bytes that can never become UTF-8 fail the connection before the
/// rest of a large message is read (RFC 6455 section 8.1). A compressed message is only checked once inflated, by
/// the caller (``inflatedTextFailure(_:)``). Control frames are not its business: they may arrive between fragments
/// and leave an assembly untouched.
public struct WebSocketMessageAssembler: Sendable {
    /// The largest message accepted, counted over the frames as they arrive (compressed bytes when compressed).
    public let maxMessageBytes: Int
    private var fragments: ByteBuffer?
    private var isText = false
    private var isCompressed = false
    private var utf8 = UTF8StreamValidator()

    public init(maxMessageBytes: Int) {
        precondition(maxMessageBytes > 0, "a message must be allowed at least one byte")
        self.maxMessageBytes = maxMessageBytes
    }

    /// What a data frame did to the message being assembled.
    public enum Step: Equatable, Sendable {
        /// A fragmented message began: it must now end in time (`limits.message_timeout_ms`).
        case started
        /// A middle fragment was added.
        case continued
        /// The final frame arrived.
        case complete(WebSocketMessage)
        /// The frames broke a rule; the assembly is dropped.
        case failed(WebSocketFailure)
    }

    /// Whether a fragmented message has begun and not yet ended.
    public var isAssembling: Bool { fragments != nil }

    /// The first frame of a message (opcode text or binary).
    /// - Parameter compressed: RSV1 was set with permessage-deflate agreed.
    public mutating func first(_ payload: ByteBuffer, isText: Bool, compressed: Bool, fin: Bool) -> Step {
        guard fragments == nil else { return fail(.protocolError, "new message before the previous one ended") }
        self.isText = isText
        isCompressed = compressed
        utf8 = UTF8StreamValidator()
        if let failure = check(payload, joining: 0) { return failure }
        return end(payload, fin: fin, started: true)
    }

    /// A continuation frame.
    public mutating func continuation(_ payload: ByteBuffer, fin: Bool) -> Step {
        guard var buffer = fragments else { return fail(.protocolError, "continuation frame without a message") }
        fragments = nil  // one owner while appending: no copy-on-write
        if let failure = check(payload, joining: buffer.readableBytes) { return failure }
        var data = payload
        buffer.writeBuffer(&data)
        return end(buffer, fin: fin, started: false)
    }

    /// Drops a message in progress (the connection failed or closed).
    public mutating func reset() {
        fragments = nil
    }

    /// The size limit and the fail-fast UTF-8 check for one more frame; nil when it passes.
    private mutating func check(_ payload: ByteBuffer, joining assembled: Int) -> Step? {
        guard assembled + payload.readableBytes <= maxMessageBytes else {
            return fail(.messageTooLarge, "message larger than \(maxMessageBytes) bytes")
        }
        guard !isText || isCompressed || payload.withUnsafeReadableBytes({ utf8.feed($0) }) else {
            return fail(.invalidPayload, WebSocketFailure.invalidUTF8)
        }
        return nil
    }

    private mutating func end(_ message: ByteBuffer, fin: Bool, started: Bool) -> Step {
        guard fin else {
            fragments = message
            return started ? .started : .continued
        }
        if isText && !isCompressed && !utf8.isComplete { return fail(.invalidPayload, WebSocketFailure.invalidUTF8) }
        return .complete(WebSocketMessage(payload: message, isText: isText, isCompressed: isCompressed))
    }

    private mutating func fail(_ code: CloseCode, _ reason: String) -> Step {
        fragments = nil
        return .failed(WebSocketFailure(code, reason))
    }

    /// The failure for an inflated text message that is not UTF-8, nil when it is.
    public static func inflatedTextFailure(_ text: ByteBuffer) -> WebSocketFailure? {
        var validator = UTF8StreamValidator()
        guard text.withUnsafeReadableBytes({ validator.feed($0) }), validator.isComplete else {
            return WebSocketFailure(.invalidPayload, WebSocketFailure.invalidUTF8)
        }
        return nil
    }
}

/// A complete client message: every frame's payload joined, still compressed when ``isCompressed``.
public struct WebSocketMessage: Equatable, Sendable {
    public var payload: ByteBuffer
    public var isText: Bool
    public var isCompressed: Bool

    public init(payload: ByteBuffer, isText: Bool, isCompressed: Bool = false) {
        self.payload = payload
        self.isText = isText
        self.isCompressed = isCompressed
    }
}

/// Why the server fails a WebSocket connection: the close code and the reason its close frame carries.
public struct WebSocketFailure: Equatable, Sendable, CustomStringConvertible {
    public var code: CloseCode
    public var reason: String

    public init(_ code: CloseCode, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code.rawValue) \(reason)" }

    static let invalidUTF8 = "text frame is not valid UTF-8"
}

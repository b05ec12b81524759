import Foundation
import NIOCore
import NIOEmbedded
import NIOWebSocket
import SwitchboardCore
@_spi(Fuzzing) import SwitchboardServer

/// The WebSocket layer: frame decoding and the connection's rules, UTF-8 checks, extension negotiation, inflating.
enum WireTargets {
    static let maxMessageBytes = 65_536

    /// Bytes from a client socket through NIO's frame decoder (as the server installs it) into the connection state
    /// machine. The first input byte picks where the bytes are split into two reads and whether permessage-deflate
    /// was agreed. A delivered text message is valid UTF-8; once closed, nothing but a close means anything.
    static func webSocketFrames(_ input: Data) throws(FuzzFinding) {
        guard let control = input.first else { return }
        let bytes = Array(input.dropFirst())
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: maxMessageBytes)))
        defer { _ = try? channel.finish() }
        var machine = WebSocketConnectionStateMachine(maxMessageBytes: maxMessageBytes, compressionAgreed: control & 0x80 != 0)
        let split = bytes.isEmpty ? 0 : Int(control & 0x7F) % (bytes.count + 1)
        for read in [bytes[..<split], bytes[split...]] where !read.isEmpty {
            do {
                try channel.writeInbound(ByteBuffer(bytes: read))
            } catch {
                return  // NIO refused the framing (the server answers 1002/1009 for it)
            }
            while let frame = try? channel.readInbound(as: WebSocketFrame.self) {
                let wasOpen = machine.isOpen
                let action = machine.frameReceived(
                    WebSocketInboundFrame(
                        opcode: .init(UInt8(webSocketOpcode: frame.opcode)), fin: frame.fin, rsv1: frame.rsv1, rsv2: frame.rsv2,
                        rsv3: frame.rsv3, isMasked: frame.maskKey != nil, payload: frame.unmaskedData))
                switch action {
                case .deliver(let message):
                    try require(wasOpen, "a message delivered after the connection closed")
                    if message.isText && !message.isCompressed {
                        try require(UTF8Validation.isValid(message.payload.readableBytesView), "a text message that is not UTF-8 was delivered")
                    }
                    try require(message.payload.readableBytes <= maxMessageBytes, "a message over the size limit was delivered")
                case .sendPong, .startMessageTimer:
                    try require(wasOpen, "\(action) after the connection closed")
                case .doNothing, .replyToClose, .closeChannel, .fail:
                    break
                }
            }
        }
    }

    /// The one-shot and streaming validators agree with each other and with the standard library, however the
    /// bytes are cut into pieces.
    static func utf8(_ input: Data) throws(FuzzFinding) {
        let bytes = Array(input)
        let oneShot = UTF8Validation.isValid(bytes)
        let standard = String(validating: bytes, as: UTF8.self) != nil
        try require(oneShot == standard, "UTF8Validation says \(oneShot), the standard library \(standard)")
        var stream = UTF8StreamValidator()
        var streamValid = true
        var start = 0
        var cut = bytes.first.map { Int($0 % 7) + 1 } ?? 1
        while start < bytes.count && streamValid {
            let end = min(bytes.count, start + cut)
            streamValid = bytes[start..<end].withUnsafeBytes { stream.feed($0) }
            start = end
            cut = cut % 7 + 1
        }
        streamValid = streamValid && stream.isComplete
        try require(streamValid == oneShot, "UTF8StreamValidator says \(streamValid), UTF8Validation \(oneShot)")
    }

    /// `Sec-WebSocket-Extensions` header values (one per line): an agreement, when there is one, is one the server
    /// can hold to, and reading it back from the response header gives the same agreement.
    static func perMessageDeflateOffers(_ input: Data) throws(FuzzFinding) {
        guard let text = input.utf8Text else { return }
        let values = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        _ = PerMessageDeflateNegotiation.parse(values)
        guard let agreement = PerMessageDeflateNegotiation.negotiate(offers: values) else { return }
        let header = agreement.responseHeaderValue
        let readBack = PerMessageDeflateNegotiation.agreement(fromResponse: header)
        try require(readBack == agreement, "agreement \(agreement) written as '\(header)' reads back as \(String(describing: readBack))")
    }

    /// Compressed message payloads, inflated with a size cap as the server does: the output never passes the cap,
    /// whatever the input (deflate bombs included). The first byte picks context takeover and where one message ends.
    static func inflate(_ input: Data) throws(FuzzFinding) {
        guard let control = input.first else { return }
        let bytes = Array(input.dropFirst())
        let split = bytes.isEmpty ? 0 : Int(control & 0x7F) % (bytes.count + 1)
        let limit = 4_096
        let outputs = FuzzingEntryPoints.inflate(
            messages: [ByteBuffer(bytes: bytes[..<split]), ByteBuffer(bytes: bytes[split...])], keepsContext: control & 0x80 != 0,
            limit: limit)
        for case .success(let output) in outputs {
            try require(output.readableBytes <= limit, "inflated \(output.readableBytes) bytes past the \(limit)-byte cap")
        }
    }
}

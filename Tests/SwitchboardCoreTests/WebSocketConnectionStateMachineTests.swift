import NIOCore
import SwitchboardCore
import Testing

/// The connection's frame rules, close handshake and pong rule, with no channel.
struct WebSocketConnectionStateMachineTests {
    private func machine(compression: Bool = false) -> WebSocketConnectionStateMachine {
        WebSocketConnectionStateMachine(maxMessageBytes: 64, compressionAgreed: compression)
    }

    private func frame(
        _ opcode: WebSocketInboundFrame.Opcode, _ payload: [UInt8] = [], fin: Bool = true, rsv1: Bool = false, rsv2: Bool = false, rsv3: Bool = false,
        masked: Bool = true
    ) -> WebSocketInboundFrame {
        WebSocketInboundFrame(opcode: opcode, fin: fin, rsv1: rsv1, rsv2: rsv2, rsv3: rsv3, isMasked: masked, payload: ByteBuffer(bytes: payload))
    }

    private func close(_ code: UInt16, _ reason: [UInt8] = []) -> WebSocketInboundFrame {
        frame(.close, [UInt8(code >> 8), UInt8(code & 0xFF)] + reason)
    }

    /// A complete text message is delivered.
    @Test func aTextMessageIsDelivered() {
        var machine = machine()
        #expect(machine.frameReceived(frame(.text, Array("hi".utf8))) == .deliver(WebSocketMessage(payload: ByteBuffer(string: "hi"), isText: true)))
        #expect(machine.state == .open)
    }

    /// A fragmented message starts its timer; a ping between fragments is answered and does not disturb it.
    @Test func aPingBetweenFragmentsIsAnsweredAndTheMessageCompletes() {
        var machine = machine()
        #expect(machine.frameReceived(frame(.text, Array("he".utf8), fin: false)) == .startMessageTimer)
        #expect(machine.frameReceived(frame(.ping, [1, 2])) == .sendPong(ByteBuffer(bytes: [1, 2])))
        #expect(
            machine.frameReceived(frame(.continuation, Array("y".utf8)))
                == .deliver(WebSocketMessage(payload: ByteBuffer(string: "hey"), isText: true)))
    }

    /// RFC 6455 section 5.1: the server fails a connection whose client does not mask.
    @Test func anUnmaskedFrameFailsWith1002() {
        var machine = machine()
        #expect(machine.frameReceived(frame(.text, [0x61], masked: false)) == .fail(WebSocketFailure(.protocolError, "client frames must be masked")))
        #expect(machine.state == .closed)
    }

    /// Reserved bits without an extension fail; RSV1 means "compressed" only on a data message's first frame with
    /// permessage-deflate agreed.
    @Test(arguments: [
        (false, true, false, false, false), (false, false, true, false, false), (false, false, false, true, false), (true, true, false, false, true),
    ])
    func reservedBitsFailWith1002UnlessDeflateGivesRSV1AMeaning(compression: Bool, rsv1: Bool, rsv2: Bool, rsv3: Bool, accepted: Bool) {
        var machine = machine(compression: compression)
        let action = machine.frameReceived(frame(.binary, [0x00], rsv1: rsv1, rsv2: rsv2, rsv3: rsv3))
        if accepted {
            #expect(action == .deliver(WebSocketMessage(payload: ByteBuffer(bytes: [0x00]), isText: false, isCompressed: true)))
        } else {
            #expect(action == .fail(WebSocketFailure(.protocolError, "reserved bits set without an extension")))
        }
    }

    /// RSV1 on a control frame is an error even with deflate agreed.
    @Test func rsv1OnAControlFrameFailsEvenWithDeflate() {
        var machine = machine(compression: true)
        #expect(machine.frameReceived(frame(.ping, rsv1: true)) == .fail(WebSocketFailure(.protocolError, "reserved bits set without an extension")))
    }

    /// Opcodes no extension defines fail.
    @Test func aReservedOpcodeFailsWith1002() {
        var machine = machine()
        #expect(WebSocketInboundFrame.Opcode(0x3) == .reserved)
        #expect(machine.frameReceived(frame(.reserved)) == .fail(WebSocketFailure(.protocolError, "unknown opcode")))
    }

    /// Assembly failures close the connection: a continuation without a message, a message over the limit.
    @Test func assemblyFailuresCloseTheConnection() {
        var orphan = machine()
        #expect(orphan.frameReceived(frame(.continuation, [0x61])) == .fail(WebSocketFailure(.protocolError, "continuation frame without a message")))
        #expect(!orphan.isOpen)
        var large = machine()
        #expect(large.frameReceived(frame(.binary, Array(repeating: 0, count: 40), fin: false)) == .startMessageTimer)
        #expect(
            large.frameReceived(frame(.continuation, Array(repeating: 0, count: 40)))
                == .fail(WebSocketFailure(.messageTooLarge, "message larger than 64 bytes")))
    }

    private static let closeReplies: [([UInt8], UInt16)] = [
        ([], 1000), ([0x03], 1002), ([0x03, 0xE8], 1000), ([0x0F, 0xA1], 4001), ([0x03, 0xED], 1002), ([0x03, 0xE8, 0xC0], 1007),
    ]

    /// The peer's close is answered with its own code; no code means 1000; broken close frames get the error they made.
    @Test(arguments: closeReplies)
    func thePeersCloseIsAnsweredWithItsCodeOrTheErrorItMade(payload: [UInt8], reply: UInt16) {
        var machine = machine()
        guard case .replyToClose(let code) = machine.frameReceived(frame(.close, payload)) else {
            Issue.record("expected a close reply")
            return
        }
        #expect(code.rawValue == reply)
        #expect(machine.state == .closed)
    }

    /// Quiesce sends 4001 once and waits; the peer's close reply then closes the channel, and data is ignored meanwhile.
    @Test func quiesceSendsAShutdownCloseAndThePeersReplyClosesTheChannel() {
        var machine = machine()
        #expect(machine.quiesce() == .sendClose(.shutdown, reason: "server shutting down"))
        #expect(machine.state == .closeSent)
        #expect(machine.quiesce() == .doNothing)
        #expect(machine.frameReceived(frame(.text, [0x61])) == .doNothing)
        #expect(machine.frameReceived(frame(.ping)) == .doNothing)
        #expect(machine.frameReceived(close(1001)) == .closeChannel)
        #expect(machine.state == .closed)
    }

    /// Once the server failed the connection, only the peer's close means anything, and nothing else is sent.
    @Test func afterAFailureOnlyThePeersCloseCounts() {
        var machine = machine()
        #expect(machine.fail(WebSocketFailure(.slowConsumer, "slow")) == .sendClose(.slowConsumer, reason: "slow"))
        #expect(machine.fail(WebSocketFailure(.protocolError, "again")) == .doNothing)
        #expect(machine.quiesce() == .doNothing)
        #expect(machine.messageTimerFired() == .doNothing)
        #expect(machine.frameReceived(frame(.binary, [0x61], masked: false)) == .doNothing)
        #expect(machine.frameReceived(close(1000)) == .closeChannel)
    }

    /// A fragmented message that does not end in time is a policy violation (1008).
    @Test func anUnfinishedMessageTimesOutWith1008() {
        var machine = machine()
        _ = machine.frameReceived(frame(.text, [0x61], fin: false))
        #expect(machine.messageTimerFired() == .sendClose(.policyViolation, reason: "message not completed within limits.message_timeout_ms"))
        #expect(machine.frameReceived(frame(.continuation, [0x62])) == .doNothing)
    }

    /// While the socket is full no pong goes out; when it drains, exactly one, with the latest ping's payload.
    @Test func pingsOnAFullSocketOweOnePongWithTheLatestPayload() {
        var machine = machine()
        #expect(machine.writabilityChanged(isWritable: false) == .doNothing)
        for index in 0..<100 { #expect(machine.frameReceived(frame(.ping, [UInt8(index)])) == .doNothing) }
        #expect(machine.writabilityChanged(isWritable: true) == .sendPong(ByteBuffer(bytes: [99])))
        #expect(machine.writabilityChanged(isWritable: false) == .doNothing)
        #expect(machine.writabilityChanged(isWritable: true) == .doNothing)
        #expect(machine.frameReceived(frame(.ping, [7])) == .sendPong(ByteBuffer(bytes: [7])))
    }

    /// A pong owed when the server starts closing is never sent.
    @Test func noPongIsOwedOnceClosing() {
        var machine = machine(compression: false)
        _ = machine.writabilityChanged(isWritable: false)
        _ = machine.frameReceived(frame(.ping, [1]))
        _ = machine.quiesce()
        #expect(machine.writabilityChanged(isWritable: true) == .doNothing)
    }

    /// Pongs from the client are heartbeat traffic only.
    @Test func aPongIsIgnored() {
        var machine = machine()
        #expect(machine.frameReceived(frame(.pong, [1])) == .doNothing)
        #expect(machine.isOpen)
    }
}

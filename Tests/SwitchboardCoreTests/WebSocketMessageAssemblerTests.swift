import NIOCore
import SwitchboardCore
import Testing

/// Message assembly from data frames, with no channel.
struct WebSocketMessageAssemblerTests {
    private func text(_ string: String) -> ByteBuffer { ByteBuffer(string: string) }

    /// A final first frame is a whole message.
    @Test func aSingleFrameIsAWholeMessage() {
        var assembler = WebSocketMessageAssembler(maxMessageBytes: 100)
        #expect(
            assembler.first(text("hello"), isText: true, compressed: false, fin: true)
                == .complete(WebSocketMessage(payload: text("hello"), isText: true)))
        #expect(!assembler.isAssembling)
    }

    /// Fragments are joined in order; the first says a timer should start, the last completes the message.
    @Test func fragmentsAreJoinedInOrder() {
        var assembler = WebSocketMessageAssembler(maxMessageBytes: 100)
        #expect(assembler.first(text("he"), isText: false, compressed: false, fin: false) == .started)
        #expect(assembler.isAssembling)
        #expect(assembler.continuation(text("ll"), fin: false) == .continued)
        #expect(assembler.continuation(text("o"), fin: true) == .complete(WebSocketMessage(payload: text("hello"), isText: false)))
        #expect(!assembler.isAssembling)
    }

    /// RFC 6455 section 5.4: a new data message may not start inside a fragmented one.
    @Test func aNewMessageInsideAFragmentedOneIsAProtocolError() {
        var assembler = WebSocketMessageAssembler(maxMessageBytes: 100)
        _ = assembler.first(text("a"), isText: true, compressed: false, fin: false)
        #expect(
            assembler.first(text("b"), isText: true, compressed: false, fin: true)
                == .failed(WebSocketFailure(.protocolError, "new message before the previous one ended")))
        #expect(!assembler.isAssembling)
    }

    /// A continuation frame needs a message to continue.
    @Test func aContinuationWithoutAMessageIsAProtocolError() {
        var assembler = WebSocketMessageAssembler(maxMessageBytes: 100)
        #expect(assembler.continuation(text("x"), fin: true) == .failed(WebSocketFailure(.protocolError, "continuation frame without a message")))
    }

    /// The limit counts the joined message, not the frame: 1009 on the frame that crosses it.
    @Test func aMessageOverTheLimitIsRefusedOnTheFrameThatCrossesIt() {
        var assembler = WebSocketMessageAssembler(maxMessageBytes: 8)
        #expect(assembler.first(text("1234"), isText: false, compressed: false, fin: false) == .started)
        #expect(assembler.continuation(text("5678"), fin: false) == .continued)
        #expect(assembler.continuation(text("9"), fin: true) == .failed(WebSocketFailure(.messageTooLarge, "message larger than 8 bytes")))
        #expect(!assembler.isAssembling)
    }

    /// A message of exactly the limit passes.
    @Test func aMessageOfExactlyTheLimitPasses() {
        var assembler = WebSocketMessageAssembler(maxMessageBytes: 4)
        _ = assembler.first(text("12"), isText: false, compressed: false, fin: false)
        #expect(assembler.continuation(text("34"), fin: true) == .complete(WebSocketMessage(payload: text("1234"), isText: false)))
    }

    /// Fail fast: bytes that can never be UTF-8 fail the first fragment, before the rest is read (Autobahn 6.4.*).
    @Test func invalidUTF8FailsOnTheFragmentThatCarriesIt() {
        var assembler = WebSocketMessageAssembler(maxMessageBytes: 100)
        #expect(
            assembler.first(ByteBuffer(bytes: [0x61, 0xC0]), isText: true, compressed: false, fin: false)
                == .failed(WebSocketFailure(.invalidPayload, "text frame is not valid UTF-8")))
    }

    /// A code point may straddle two frames; one cut off at the end of the message is invalid.
    @Test func aCodePointMayStraddleFramesButNotEndTheMessage() {
        var assembler = WebSocketMessageAssembler(maxMessageBytes: 100)
        #expect(assembler.first(ByteBuffer(bytes: [0xC3]), isText: true, compressed: false, fin: false) == .started)
        #expect(
            assembler.continuation(ByteBuffer(bytes: [0xA9]), fin: true)
                == .complete(WebSocketMessage(payload: ByteBuffer(bytes: [0xC3, 0xA9]), isText: true)))

        #expect(
            assembler.first(ByteBuffer(bytes: [0x61, 0xE2, 0x82]), isText: true, compressed: false, fin: true)
                == .failed(WebSocketFailure(.invalidPayload, "text frame is not valid UTF-8")))
    }

    /// Compressed text is only checked once inflated, by the caller.
    @Test func compressedTextIsNotCheckedUntilInflated() {
        var assembler = WebSocketMessageAssembler(maxMessageBytes: 100)
        let deflated = ByteBuffer(bytes: [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        #expect(
            assembler.first(deflated, isText: true, compressed: true, fin: true)
                == .complete(WebSocketMessage(payload: deflated, isText: true, isCompressed: true)))
        #expect(
            WebSocketMessageAssembler.inflatedTextFailure(ByteBuffer(bytes: [0xFF]))
                == WebSocketFailure(.invalidPayload, "text frame is not valid UTF-8"))
        #expect(WebSocketMessageAssembler.inflatedTextFailure(text("Hello")) == nil)
    }

    /// After a failure the assembler starts clean.
    @Test func resetDropsTheMessageInProgress() {
        var assembler = WebSocketMessageAssembler(maxMessageBytes: 100)
        _ = assembler.first(text("a"), isText: true, compressed: false, fin: false)
        assembler.reset()
        #expect(!assembler.isAssembling)
        #expect(
            assembler.first(text("b"), isText: true, compressed: false, fin: true) == .complete(WebSocketMessage(payload: text("b"), isText: true)))
    }
}

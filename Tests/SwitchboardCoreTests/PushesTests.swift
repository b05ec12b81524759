import NIOCore
import Testing

@testable import SwitchboardCore

private let room = try! ChannelName(validating: "chat:room")

private func text(_ buffer: ByteBuffer) -> String { String(buffer: buffer) }

/// Exact JSON text of every server→client message.
struct PushesTests {
    @Test func aPublicationPushListsItsMembersInOrder() {
        let publication = Publication(
            channel: room, epoch: "ep1", offset: 7, data: ByteBuffer(string: #"{"a":[1,2]}"#), sender: "alice"
        )
        #expect(
            text(Pushes.publication(publication))
                == #"{"push":"publication","channel":"chat:room","epoch":"ep1","offset":7,"data":{"a":[1,2]},"sender":"alice"}"#
        )
    }

    @Test func aPublicationPushWithoutASenderOmitsTheMember() {
        let publication = Publication(channel: room, epoch: "ep1", offset: 1, data: ByteBuffer(string: "42"))
        #expect(text(Pushes.publication(publication)) == #"{"push":"publication","channel":"chat:room","epoch":"ep1","offset":1,"data":42}"#)
    }

    @Test func aPublicationPushNeverIncludesTheIdempotencyKey() {
        let publication = Publication(channel: room, epoch: "e", offset: 1, data: ByteBuffer(string: "1"), idempotencyKey: "k")
        #expect(!text(Pushes.publication(publication)).contains("idempotency"))
    }

    @Test func aPublicationPushEscapesTheSender() {
        let publication = Publication(channel: room, epoch: "e", offset: 1, data: ByteBuffer(string: "1"), sender: "a\"b\\c\n")
        #expect(text(Pushes.publication(publication)).hasSuffix(#","sender":"a\"b\\c\n"}"#))
    }

    @Test func aPublicationPushWritesTheLargestOffsetExactly() {
        let publication = Publication(channel: room, epoch: "e", offset: StreamPosition.maxOffset, data: ByteBuffer(string: "1"))
        #expect(text(Pushes.publication(publication)).contains(#""offset":9007199254740991,"#))
    }

    @Test func anEmptyReplyHasAnEmptyResult() {
        #expect(text(Pushes.reply(id: 3)) == #"{"id":3,"result":{}}"#)
    }

    @Test func aReplyWrapsItsMembersInResult() {
        let reply = Pushes.reply(id: 4) { writer in
            writer.key("client")
            writer.string("c-1")
            writer.key("n")
            writer.int(2)
        }
        #expect(text(reply) == #"{"id":4,"result":{"client":"c-1","n":2}}"#)
    }

    @Test func anErrorWithAnIdIsAReply() {
        let error = Pushes.error(id: 5, ProtocolError(.invalidChannel, "bad name"))
        #expect(text(error) == #"{"id":5,"error":{"code":108,"name":"invalid_channel","reason":"bad name"}}"#)
    }

    @Test func anErrorWithoutAnIdIsAnErrorPush() {
        let error = Pushes.error(id: nil, ProtocolError(.malformedJSON, "nope"))
        #expect(text(error) == #"{"push":"error","error":{"code":111,"name":"malformed_json","reason":"nope"}}"#)
    }

    @Test func errorReasonsAreEscaped() {
        let error = Pushes.error(id: 1, ProtocolError(.unknownCommand, "unknown command \"x\""))
        #expect(text(error) == #"{"id":1,"error":{"code":104,"name":"unknown_command","reason":"unknown command \"x\""}}"#)
    }

    @Test func anHTTPErrorBodyHasTheErrorAndExtraMembers() {
        #expect(text(Pushes.httpError(ProtocolError(.notFound, "no"))) == #"{"error":{"code":118,"name":"not_found","reason":"no"}}"#)
        let withExtra = Pushes.httpError(ProtocolError(.unsupportedSubprotocol, "no")) { writer in
            writer.key("supported")
            writer.beginArray()
            writer.string("switchboard.v1")
            writer.endArray()
        }
        #expect(
            text(withExtra) == #"{"error":{"code":113,"name":"unsupported_subprotocol","reason":"no"},"supported":["switchboard.v1"]}"#
        )
    }

    @Test func aDisconnectForAReconnectableCodeSaysReconnect() {
        #expect(
            text(Pushes.disconnect(.slowConsumer))
                == #"{"push":"disconnect","code":4002,"reason":"slow consumer: outbound queue limit reached","reconnect":true}"#
        )
    }

    @Test func aDisconnectForAFinalCodeSaysDoNotReconnect() {
        #expect(
            text(Pushes.disconnect(.badProtocol))
                == #"{"push":"disconnect","code":4500,"reason":"too many malformed commands","reconnect":false}"#
        )
    }

    @Test func theDisconnectReconnectFlagFollowsTheCloseCodeRule() {
        let codes: [CloseCode] = [
            .normal, .protocolError, .unsupportedData, .policyViolation, .invalidPayload, .messageTooLarge, .internalError,
            .shutdown, .slowConsumer, .heartbeatTimeout, .badProtocol, CloseCode(1012, "restart"), CloseCode(4499, "x"),
            CloseCode(4999, "y"),
        ]
        for code in codes {
            #expect(text(Pushes.disconnect(code)).hasSuffix(#","reconnect":\#(code.reconnect)}"#), "\(code)")
        }
    }

    @Test func aFreshStreamStartHasNoRecoveredMember() {
        let recovery = Recovery(outcome: .fresh, position: StreamPosition(epoch: "ep1", offset: 3), publications: [])
        #expect(
            text(Pushes.streamStart(type: "subscribed", channel: room, recovery: recovery))
                == #"{"push":"subscribed","channel":"chat:room","epoch":"ep1","offset":3}"#
        )
    }

    @Test func aRecoveredStreamStartSaysRecovered() {
        let recovery = Recovery(outcome: .recovered, position: StreamPosition(epoch: "ep1", offset: 9), publications: [])
        #expect(
            text(Pushes.streamStart(type: "subscribed", channel: room, recovery: recovery))
                == #"{"push":"subscribed","channel":"chat:room","epoch":"ep1","offset":9,"recovered":true}"#
        )
    }

    @Test func aResetStreamStartGivesTheReason() {
        let recovery = Recovery(outcome: .reset(.epochChanged), position: StreamPosition(epoch: "new", offset: 2), publications: [])
        #expect(
            text(Pushes.streamStart(type: "reset", channel: room, recovery: recovery))
                == #"{"push":"reset","channel":"chat:room","epoch":"new","offset":2,"recovered":false,"reason":"epoch changed: history was lost"}"#
        )
    }

    @Test func writeSubscribedAddsMembersToAReply() {
        let recovery = Recovery(outcome: .reset(.outsideWindow), position: StreamPosition(epoch: "e", offset: 5), publications: [])
        let reply = Pushes.reply(id: 2) { Pushes.writeSubscribed(channel: room, recovery: recovery, into: &$0) }
        #expect(
            text(reply)
                == #"{"id":2,"result":{"channel":"chat:room","epoch":"e","offset":5,"recovered":false,"reason":"missed publications are older than the history window"}}"#
        )
    }

    @Test func aPingPushIsTiny() {
        #expect(text(Pushes.ping()) == #"{"push":"ping"}"#)
    }

    @Test func objectWrapsMembersInBraces() {
        #expect(
            text(
                Pushes.object {
                    $0.key("a"); $0.bool(false)
                }) == #"{"a":false}"#)
        #expect(text(Pushes.object { _ in }) == "{}")
    }

    @Test func everyPushIsValidJSON() throws {
        let publication = Publication(channel: room, epoch: "e", offset: 1, data: ByteBuffer(string: #"{"x":null}"#), sender: "s")
        let recovery = Recovery(outcome: .reset(.tooManyMissed), position: StreamPosition(epoch: "e", offset: 1), publications: [])
        let pushes = [
            Pushes.publication(publication), Pushes.reply(id: 1), Pushes.error(id: nil, ProtocolError(.internalError, "\u{1}")),
            Pushes.disconnect(.shutdown), Pushes.streamStart(type: "reset", channel: room, recovery: recovery), Pushes.ping(),
        ]
        for push in pushes {
            #expect(try JSONScanner.validateAndMinify(push) == push, "\(text(push))")
        }
    }
}

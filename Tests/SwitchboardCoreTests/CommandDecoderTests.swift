import NIOCore
import Testing

@testable import SwitchboardCore

private func decode(_ text: String) -> Result<CommandEnvelope, CommandDecodingFailure> {
    CommandDecoder.decode(ByteBuffer(string: text))
}

private func decoded(_ text: String) throws -> CommandEnvelope {
    try decode(text).get()
}

private func failure(_ text: String) -> CommandDecodingFailure? {
    if case .failure(let failure) = decode(text) { return failure }
    return nil
}

/// Decoding of protocol v1 client commands, and the error code and id of every refusal.
struct CommandDecoderTests {
    // MARK: Every command decodes

    @Test func connectDecodesWithAToken() throws {
        let envelope = try decoded(#"{"id":1,"cmd":"connect","token":"abc.def"}"#)
        #expect(envelope.id == 1)
        guard case .connect(let token, _, _, _) = envelope.command else {
            Issue.record("expected connect, got \(envelope.command.name)")
            return
        }
        #expect(token == "abc.def")
    }

    @Test func connectDecodesWithoutAToken() throws {
        let envelope = try decoded(#"{"id":1,"cmd":"connect"}"#)
        guard case .connect(let token, _, _, _) = envelope.command else {
            Issue.record("expected connect, got \(envelope.command.name)")
            return
        }
        #expect(token == nil)
    }

    @Test func subscribeDecodesWithoutAPosition() throws {
        let envelope = try decoded(#"{"id":2,"cmd":"subscribe","channel":"chat:room"}"#)
        #expect(envelope.id == 2)
        guard case .subscribe(let channel, let since, _, _, _, _) = envelope.command else {
            Issue.record("expected subscribe, got \(envelope.command.name)")
            return
        }
        #expect(channel.rawValue == "chat:room")
        #expect(channel.namespace == "chat")
        #expect(since == nil)
    }

    @Test func subscribeDecodesAPosition() throws {
        let envelope = try decoded(#"{"id":2,"cmd":"subscribe","channel":"c","since":{"epoch":"k3f9a","offset":12}}"#)
        guard case .subscribe(_, let since, _, _, _, _) = envelope.command else {
            Issue.record("expected subscribe, got \(envelope.command.name)")
            return
        }
        #expect(since == StreamPosition(epoch: "k3f9a", offset: 12))
    }

    @Test func subscribeTreatsANullPositionAsNone() throws {
        let envelope = try decoded(#"{"id":2,"cmd":"subscribe","channel":"c","since":null}"#)
        guard case .subscribe(_, let since, _, _, _, _) = envelope.command else {
            Issue.record("expected subscribe, got \(envelope.command.name)")
            return
        }
        #expect(since == nil)
    }

    @Test func unsubscribeDecodes() throws {
        let envelope = try decoded(#"{"id":3,"cmd":"unsubscribe","channel":"news"}"#)
        #expect(envelope.id == 3)
        guard case .unsubscribe(let channel) = envelope.command else {
            Issue.record("expected unsubscribe, got \(envelope.command.name)")
            return
        }
        #expect(channel.rawValue == "news")
    }

    @Test func publishDecodesWithMinifiedData() throws {
        let envelope = try decoded(#"{"id":4,"cmd":"publish","channel":"c","data": { "text" : "hi there", "n" : [ 1 , 2 ] } }"#)
        #expect(envelope.id == 4)
        guard case .publish(let channel, let data, let key, _, _, _) = envelope.command else {
            Issue.record("expected publish, got \(envelope.command.name)")
            return
        }
        #expect(channel.rawValue == "c")
        #expect(String(buffer: data) == #"{"text":"hi there","n":[1,2]}"#)
        #expect(key == nil)
    }

    @Test func publishAcceptsAnyJSONValueAsData() throws {
        for (raw, expected) in [(#""text""#, #""text""#), ("42", "42"), ("[ ]", "[]"), ("null", "null"), ("true", "true")] {
            let envelope = try decoded(#"{"id":4,"cmd":"publish","channel":"c","data":\#(raw)}"#)
            guard case .publish(_, let data, _, _, _, _) = envelope.command else {
                Issue.record("expected publish, got \(envelope.command.name)")
                continue
            }
            #expect(String(buffer: data) == expected)
        }
    }

    @Test func publishDecodesAnIdempotencyKey() throws {
        let envelope = try decoded(#"{"id":4,"cmd":"publish","channel":"c","data":1,"idempotencyKey":"order-17"}"#)
        guard case .publish(_, _, let key, _, _, _) = envelope.command else {
            Issue.record("expected publish, got \(envelope.command.name)")
            return
        }
        #expect(key == "order-17")
    }

    @Test func publishTreatsANullIdempotencyKeyAsNone() throws {
        let envelope = try decoded(#"{"id":4,"cmd":"publish","channel":"c","data":1,"idempotencyKey":null}"#)
        guard case .publish(_, _, let key, _, _, _) = envelope.command else {
            Issue.record("expected publish, got \(envelope.command.name)")
            return
        }
        #expect(key == nil)
    }

    @Test func anIdempotencyKeyOf128BytesIsAccepted() throws {
        let key = String(repeating: "k", count: CommandDecoder.maxIdempotencyKeyLength)
        let envelope = try decoded(#"{"id":4,"cmd":"publish","channel":"c","data":1,"idempotencyKey":"\#(key)"}"#)
        guard case .publish(_, _, let decodedKey, _, _, _) = envelope.command else {
            Issue.record("expected publish, got \(envelope.command.name)")
            return
        }
        #expect(decodedKey == key)
    }

    @Test func pingDecodes() throws {
        let envelope = try decoded(#"{"id":5,"cmd":"ping"}"#)
        #expect(envelope.id == 5)
        guard case .ping = envelope.command else {
            Issue.record("expected ping, got \(envelope.command.name)")
            return
        }
    }

    @Test func pongDecodesWithoutAnId() throws {
        let envelope = try decoded(#"{"cmd":"pong"}"#)
        #expect(envelope.id == nil)
        guard case .pong = envelope.command else {
            Issue.record("expected pong, got \(envelope.command.name)")
            return
        }
    }

    @Test func pongKeepsAnIdWhenOneIsGiven() throws {
        let envelope = try decoded(#"{"id":9,"cmd":"pong"}"#)
        #expect(envelope.id == 9)
        #expect(envelope.command.name == "pong")
    }

    @Test func unknownFieldsAreIgnored() throws {
        let envelope = try decoded(#"{"v":2,"id":6,"extra":{"a":[1]},"cmd":"ping","future":true}"#)
        #expect(envelope.id == 6)
        #expect(envelope.command.name == "ping")
    }

    @Test func membersMayComeInAnyOrderWithWhitespace() throws {
        let envelope = try decoded(" {\n\"channel\" : \"c\" ,\t\"cmd\":\"unsubscribe\", \"id\" : 7 } ")
        #expect(envelope.id == 7)
        #expect(envelope.command.name == "unsubscribe")
    }

    @Test func escapedStringsAreDecodedBeforeValidation() throws {
        let envelope = try decoded(#"{"id":1,"cmd":"subscr\u0069be","channel":"chat:r\u006fom"}"#)
        guard case .subscribe(let channel, _, _, _, _, _) = envelope.command else {
            Issue.record("expected subscribe, got \(envelope.command.name)")
            return
        }
        #expect(channel.rawValue == "chat:room")
    }

    @Test func theLargestIdIsTwoToTheFiftyThirdMinusOne() throws {
        #expect(try decoded(#"{"id":9007199254740991,"cmd":"ping"}"#).id == 9_007_199_254_740_991)
    }

    @Test func connectKeepsPresenceInfoMinified() throws {
        guard case .connect(_, let info, _, _) = try decoded(#"{"id":1,"cmd":"connect","info":{ "name" : "Al" }}"#).command else {
            Issue.record("expected connect")
            return
        }
        #expect(info.map { String(buffer: $0) } == #"{"name":"Al"}"#)
    }

    @Test func oversizedPresenceInfoIsRefused() {
        let big = String(repeating: "a", count: CommandDecoder.maxInfoBytes)
        #expect(failure(#"{"id":1,"cmd":"connect","info":"\#(big)"}"#)?.error.code == .badRequest)
    }

    @Test func presenceDecodesWithCursorAndLimit() throws {
        guard
            case .presence(let channel, let cursor, let limit) = try decoded(#"{"id":1,"cmd":"presence","channel":"room:1","cursor":"c9","limit":5}"#)
                .command
        else {
            Issue.record("expected presence")
            return
        }
        #expect(channel.rawValue == "room:1" && cursor == "c9" && limit == 5)
    }

    @Test func presenceLimitOutOfRangeIsRefused() {
        #expect(failure(#"{"id":1,"cmd":"presence","channel":"r","limit":0}"#)?.error.code == .badRequest)
        #expect(failure(#"{"id":1,"cmd":"presence","channel":"r","limit":1001}"#)?.error.code == .badRequest)
    }

    @Test func signalDecodesItsTypeAndData() throws {
        guard case .signal(_, let type, let data) = try decoded(#"{"id":1,"cmd":"signal","channel":"c","type":"typing","data":[1, 2]}"#).command
        else {
            Issue.record("expected signal")
            return
        }
        #expect(type == "typing")
        #expect(data.map { String(buffer: $0) } == "[1,2]")
    }

    @Test func signalTypesAreShortNamesAndDataIsSmall() {
        #expect(failure(#"{"id":1,"cmd":"signal","channel":"c"}"#)?.error.code == .badRequest)
        #expect(failure(#"{"id":1,"cmd":"signal","channel":"c","type":""}"#)?.error.code == .badRequest)
        #expect(failure(#"{"id":1,"cmd":"signal","channel":"c","type":"a b"}"#)?.error.code == .badRequest)
        #expect(failure(#"{"id":1,"cmd":"signal","channel":"c","type":"\#(String(repeating: "t", count: 33))"}"#)?.error.code == .badRequest)
        let big = String(repeating: "a", count: CommandDecoder.maxSignalDataBytes)
        #expect(failure(#"{"id":1,"cmd":"signal","channel":"c","type":"t","data":"\#(big)"}"#)?.error.code == .badRequest)
    }

    @Test func ackNeedsAPositiveOffsetAndAKnownStatus() {
        #expect(failure(#"{"id":1,"cmd":"ack","channel":"c"}"#)?.error.code == .badRequest)
        #expect(failure(#"{"id":1,"cmd":"ack","channel":"c","offset":0}"#)?.error.code == .badRequest)
        #expect(failure(#"{"id":1,"cmd":"ack","channel":"c","offset":1,"status":"seen"}"#)?.error.code == .badRequest)
        #expect(failure(#"{"id":1,"cmd":"receipts","channel":"c","offset":"1"}"#)?.error.code == .badRequest)
    }

    @Test func publishMetadataIsValidated() {
        #expect(failure(#"{"id":1,"cmd":"publish","channel":"c","data":1,"receipts":"yes"}"#)?.error.code == .badRequest)
        #expect(failure(#"{"id":1,"cmd":"connect","batch":1}"#)?.error.code == .badRequest)
        #expect(failure(#"{"id":1,"cmd":"subscribe","channel":"c","maxRate":1001}"#)?.error.code == .badRequest)
    }

    @Test func commandNamesMatchTheWireNames() {
        let channel = try! ChannelName(validating: "c")
        let commands: [Command] = [
            .connect(token: nil), .subscribe(channel: channel, since: nil), .unsubscribe(channel: channel),
            .publish(channel: channel, data: ByteBuffer(string: "1"), idempotencyKey: nil), .ping, .pong,
            .presence(channel: channel, cursor: nil, limit: 1), .signal(channel: channel, type: "t", data: nil),
            .presenceUpdate(channel: channel, info: nil), .history(channel: channel, query: HistoryQuery()),
        ]
        #expect(
            commands.map(\.name) == [
                "connect", "subscribe", "unsubscribe", "publish", "ping", "pong", "presence", "signal", "presence_update", "history",
            ])
    }

    @Test func historyDecodesItsStartAndLimit() {
        func query(_ members: String) -> HistoryQuery? {
            guard
                case .history(_, let query) = try? CommandDecoder.decode(ByteBuffer(string: #"{"id":1,"cmd":"history","channel":"c"\#(members)}"#))
                    .get().command
            else { return nil }
            return query
        }
        #expect(query("") == HistoryQuery(start: .oldest, limit: 100))
        #expect(query(#","before":7,"limit":5"#) == HistoryQuery(start: .before(7), limit: 5))
        #expect(query(#","latest":true"#) == HistoryQuery(start: .latest))
        #expect(query(#","latest":false"#) == HistoryQuery(start: .oldest))
        #expect(query(#","since":{"epoch":"e","offset":3}"#) == HistoryQuery(start: .since(StreamPosition(epoch: "e", offset: 3))))
        #expect(failure(#"{"id":1,"cmd":"history","channel":"c","since":{"epoch":"e","offset":3},"latest":true}"#)?.error.code == .badRequest)
    }

    @Test func presenceInfoIsMinifiedAndNullClearsIt() {
        func info(_ members: String) -> String?? {
            guard
                case .presenceUpdate(_, let info) = try? CommandDecoder.decode(
                    ByteBuffer(string: #"{"id":1,"cmd":"presence_update","channel":"c"\#(members)}"#)
                ).get().command
            else { return nil }
            return .some(info.map { String(buffer: $0) })
        }
        #expect(info(#","info":{ "a" : 1 }"#) == .some(#"{"a":1}"#))
        #expect(info(#","info":null"#) == .some(nil))
        #expect(failure(#"{"id":1,"cmd":"presence_update","channel":"c"}"#)?.error.reason == "info is required (null clears it)")
    }

    // MARK: Malformed commands

    @Test func malformedJSONIsRefusedWith111AndNoId() {
        let failure = failure(#"{"id":1,"cmd":"ping""#)
        #expect(failure?.error.code == .malformedJSON)
        #expect(failure?.error.code.rawValue == 111)
        #expect(failure?.id == nil)
    }

    @Test func anEmptyMessageIsMalformedJSON() {
        #expect(failure("")?.error.code == .malformedJSON)
    }

    @Test func aJSONValueOtherThanAnObjectIsMalformed() {
        for text in [#"[1,2]"#, #""ping""#, "42", "null"] {
            let failure = failure(text)
            #expect(failure?.error.code == .malformedJSON, "\(text)")
            #expect(failure?.id == nil)
        }
    }

    @Test func trailingGarbageAfterTheObjectIsMalformed() {
        #expect(failure(#"{"id":1,"cmd":"ping"} x"#)?.error.code == .malformedJSON)
    }

    @Test func aMissingIdIsRefusedWith107() {
        let failure = failure(#"{"cmd":"ping"}"#)
        #expect(failure?.error.code == .badRequest)
        #expect(failure?.error.code.rawValue == 107)
        #expect(failure?.id == nil)
    }

    @Test func aMissingIdIsRefusedForEveryCommandButPong() {
        for cmd in ["connect", "subscribe", "unsubscribe", "publish", "ping"] {
            let failure = failure(#"{"cmd":"\#(cmd)","channel":"c","data":1}"#)
            #expect(failure?.error.code == .badRequest, "\(cmd)")
            #expect(failure?.id == nil)
        }
    }

    @Test func anIdThatIsNotAPositiveIntegerBelowTwoToTheFiftyThirdIsRefusedWithoutAnId() {
        for id in ["0", "-1", "1.5", "1e2", #""1""#, "null", "true", "9007199254740992", "99999999999999999999"] {
            let failure = failure(#"{"id":\#(id),"cmd":"ping"}"#)
            #expect(failure?.error.code == .badRequest, "id \(id)")
            #expect(failure?.id == nil, "id \(id)")
        }
    }

    @Test func aMissingCmdIsRefusedWith107AndTheId() {
        let failure = failure(#"{"id":8}"#)
        #expect(failure?.error.code == .badRequest)
        #expect(failure?.id == 8)
    }

    @Test func aCmdThatIsNotAStringIsRefusedWith107AndTheId() {
        let failure = failure(#"{"id":8,"cmd":4}"#)
        #expect(failure?.error.code == .badRequest)
        #expect(failure?.id == 8)
    }

    @Test func anUnknownCmdIsRefusedWith104AndTheId() {
        let failure = failure(#"{"id":11,"cmd":"teleport"}"#)
        #expect(failure?.error.code == .unknownCommand)
        #expect(failure?.error.code.rawValue == 104)
        #expect(failure?.id == 11)
    }

    @Test func commandNamesAreCaseSensitive() {
        #expect(failure(#"{"id":11,"cmd":"Ping"}"#)?.error.code == .unknownCommand)
    }

    @Test func theUnknownCmdReasonQuotesAtMost64Characters() {
        let long = String(repeating: "x", count: 500)
        let failure = failure(#"{"id":11,"cmd":"\#(long)"}"#)
        #expect(failure?.error.code == .unknownCommand)
        #expect(failure.map { $0.error.reason.count < 100 } == true)
    }

    @Test func connectWithANonStringTokenIsRefusedWith107() {
        let failure = failure(#"{"id":1,"cmd":"connect","token":42}"#)
        #expect(failure?.error.code == .badRequest)
        #expect(failure?.id == 1)
    }

    @Test func anInvalidChannelNameIsRefusedWith108AndTheId() {
        for cmd in ["subscribe", "unsubscribe", "publish"] {
            let failure = failure(#"{"id":12,"cmd":"\#(cmd)","channel":"a/b","data":1}"#)
            #expect(failure?.error.code == .invalidChannel, "\(cmd)")
            #expect(failure?.error.code.rawValue == 108)
            #expect(failure?.id == 12)
        }
    }

    @Test func anEmptyChannelNameIsRefusedWith108() {
        #expect(failure(#"{"id":12,"cmd":"subscribe","channel":""}"#)?.error.code == .invalidChannel)
    }

    @Test func aMissingChannelIsRefusedWith107() {
        for cmd in ["subscribe", "unsubscribe", "publish"] {
            let failure = failure(#"{"id":13,"cmd":"\#(cmd)","data":1}"#)
            #expect(failure?.error.code == .badRequest, "\(cmd)")
            #expect(failure?.id == 13)
        }
    }

    @Test func aChannelThatIsNotAStringIsRefusedWith107() {
        let failure = failure(#"{"id":13,"cmd":"subscribe","channel":["c"]}"#)
        #expect(failure?.error.code == .badRequest)
        #expect(failure?.id == 13)
    }

    @Test func aBadSinceIsRefusedWith114AndTheId() {
        let bad = [
            #""k3f9a:12""#, "12", "[]", "{}", #"{"epoch":"k3f9a"}"#, #"{"offset":1}"#, #"{"epoch":"k3f9a","offset":-1}"#,
            #"{"epoch":"k3f9a","offset":1.5}"#, #"{"epoch":"k3f9a","offset":"1"}"#, #"{"epoch":"","offset":1}"#,
            #"{"epoch":"bad-epoch","offset":1}"#, #"{"epoch":"0123456789abcdefg","offset":1}"#, #"{"epoch":7,"offset":1}"#,
            #"{"epoch":"k3f9a","offset":9007199254740992}"#,
        ]
        for since in bad {
            let failure = failure(#"{"id":14,"cmd":"subscribe","channel":"c","since":\#(since)}"#)
            #expect(failure?.error.code == .invalidPosition, "since \(since)")
            #expect(failure?.error.code.rawValue == 114)
            #expect(failure?.id == 14)
        }
    }

    @Test func aSinceAtTheLargestOffsetIsAccepted() throws {
        let envelope = try decoded(#"{"id":2,"cmd":"subscribe","channel":"c","since":{"offset":9007199254740991,"epoch":"e"}}"#)
        guard case .subscribe(_, let since, _, _, _, _) = envelope.command else {
            Issue.record("expected subscribe, got \(envelope.command.name)")
            return
        }
        #expect(since == StreamPosition(epoch: "e", offset: StreamPosition.maxOffset))
    }

    @Test func publishWithoutDataIsRefusedWith107() {
        let failure = failure(#"{"id":15,"cmd":"publish","channel":"c"}"#)
        #expect(failure?.error.code == .badRequest)
        #expect(failure?.id == 15)
    }

    @Test func anEmptyIdempotencyKeyIsRefusedWith107() {
        let failure = failure(#"{"id":16,"cmd":"publish","channel":"c","data":1,"idempotencyKey":""}"#)
        #expect(failure?.error.code == .badRequest)
        #expect(failure?.id == 16)
    }

    @Test func anIdempotencyKeyLongerThan128BytesIsRefusedWith107() {
        let key = String(repeating: "k", count: CommandDecoder.maxIdempotencyKeyLength + 1)
        let failure = failure(#"{"id":16,"cmd":"publish","channel":"c","data":1,"idempotencyKey":"\#(key)"}"#)
        #expect(failure?.error.code == .badRequest)
        #expect(failure?.id == 16)
    }

    @Test func theIdempotencyKeyLimitCountsBytesNotCharacters() {
        // "é" is two bytes: 64 of them make 128 bytes, 65 make 130.
        let fits = String(repeating: "é", count: 64)
        let tooLong = String(repeating: "é", count: 65)
        #expect((try? decoded(#"{"id":1,"cmd":"publish","channel":"c","data":1,"idempotencyKey":"\#(fits)"}"#)) != nil)
        #expect(failure(#"{"id":1,"cmd":"publish","channel":"c","data":1,"idempotencyKey":"\#(tooLong)"}"#)?.error.code == .badRequest)
    }

    @Test func anIdempotencyKeyThatIsNotAStringIsRefusedWith107() {
        let failure = failure(#"{"id":16,"cmd":"publish","channel":"c","data":1,"idempotencyKey":5}"#)
        #expect(failure?.error.code == .badRequest)
        #expect(failure?.id == 16)
    }

    @Test func refusalsCarryAReason() {
        #expect(failure(#"{"id":1,"cmd":"nope"}"#).map { !$0.error.reason.isEmpty } == true)
    }

    // MARK: Field decoders

    @Test func decodeChannelRefusesAMissingValueWith107() {
        guard case .failure(let error) = CommandDecoder.decodeChannel(nil) else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.code == .badRequest)
    }

    @Test func decodePositionIgnoresUnknownMembers() {
        let position = CommandDecoder.decodePosition(ByteBuffer(string: #"{"epoch":"e1","extra":[],"offset":0}"#))
        #expect(position == StreamPosition(epoch: "e1", offset: 0))
    }
}

/// `connect`'s `sdk` and the deprecation notice rules (protocol.md §13).
@Suite struct DeprecationNoticeRuleTests {
    @Test func prefixesPickTheSessionsAndUnnamedPicksThoseThatNameNoSDK() {
        let notice = DeprecationNotice(message: "upgrade", sdkPrefixes: ["switchboard-js/0.", DeprecationNotice.unnamed])
        #expect(notice.concerns(sdk: "switchboard-js/0.9.1"))
        #expect(!notice.concerns(sdk: "switchboard-js/1.0.0"))
        #expect(notice.concerns(sdk: nil))
        #expect(!DeprecationNotice(message: "upgrade", sdkPrefixes: ["switchboard-js/0."]).concerns(sdk: nil))
        #expect(DeprecationNotice(message: "everyone").concerns(sdk: nil))
        #expect(!DeprecationNotice(message: "", sdkPrefixes: []).concerns(sdk: "x/1"), "an empty message is no notice")
        #expect(!DeprecationNotice(message: "m", sdkPrefixes: [DeprecationNotice.unnamed]).concerns(sdk: "unnamed/1"))
    }

    @Test(arguments: ["2027-06-30", "2028-02-29", "1970-01-01"]) func datesAreAccepted(day: String) {
        #expect(DeprecationNotice.isValidSunset(day))
    }

    @Test(arguments: ["2027-6-30", "2027-02-29", "2027-13-01", "2027-00-10", "2027-06-31", "27-06-30", "2027-06-3x", "+027-06-30", ""])
    func notDatesAreRefused(day: String) {
        #expect(!DeprecationNotice.isValidSunset(day))
    }

    @Test func theConnectCommandCarriesTheSDKOrRefusesIt() throws {
        guard case .connect(_, _, _, let sdk) = try decoded(#"{"id":1,"cmd":"connect","sdk":"switchboard-js/1.0.0"}"#).command else {
            Issue.record("expected connect")
            return
        }
        #expect(sdk == "switchboard-js/1.0.0")
        for bad in [#""""#, #""a b""#, "7", #""é/1""#] {
            #expect(failure(#"{"id":1,"cmd":"connect","sdk":\#(bad)}"#)?.error.code == .badRequest, "\(bad)")
        }
    }
}

import NIOCore
import SwitchboardCore
import Testing

private func messagePack(fromJSON text: String) throws -> [UInt8] {
    Array(try MessagePackTranscoder.messagePack(fromJSON: ByteBuffer(string: text)).readableBytesView)
}

private func parsed(_ text: String) throws -> MessagePackValue {
    try MessagePackValue(parsingJSON: ByteBuffer(string: text))
}

private func json(fromMessagePack bytes: [UInt8]) throws -> String {
    String(buffer: try MessagePackTranscoder.json(fromMessagePack: ByteBuffer(bytes: bytes)))
}

private func json(from value: MessagePackValue) throws -> String {
    String(buffer: try MessagePackTranscoder.json(fromMessagePack: value.encoded()))
}

private func transcodingError(_ bytes: [UInt8]) -> MessagePackError? {
    do {
        _ = try MessagePackTranscoder.json(fromMessagePack: ByteBuffer(bytes: bytes))
        return nil
    } catch {
        return error
    }
}

private func transcodingError(_ value: MessagePackValue) -> MessagePackError? {
    transcodingError(Array(value.encoded().readableBytesView))
}

struct JSONToMessagePackTests {
    @Test func literalsBecomeNilAndBooleans() throws {
        #expect(try parsed("[null,true,false]") == .array([.nil, .bool(true), .bool(false)]))
    }

    @Test func integersThatFitInt64BecomeInts() throws {
        #expect(try parsed("[0,-1,9223372036854775807,-9223372036854775808]") == .array([.int(0), .int(-1), .int(.max), .int(.min)]))
    }

    @Test func integersAboveInt64MaxThatFitUInt64BecomeUInts() throws {
        #expect(try parsed("18446744073709551615") == .uint(.max))
    }

    @Test func integersBeyondUInt64AndInt64BecomeDoubles() throws {
        #expect(try parsed("18446744073709551616") == .double(18_446_744_073_709_551_616))
        #expect(try parsed("-9223372036854775809") == .double(-0x1p63))  // the nearest double
    }

    @Test func numbersWithAFractionOrExponentStayDoublesEvenWhenIntegral() throws {
        #expect(try parsed("[1.0,1e2,1E+2,-0.0]") == .array([.double(1), .double(100), .double(100), .double(-0.0)]))
    }

    @Test func negativeZeroIntegerIsZero() throws {
        #expect(try messagePack(fromJSON: "-0") == [0x00])
    }

    @Test func numbersBeyondDoubleRangeBecomeInfinityLikeJSONParse() throws {
        #expect(try parsed("[1e400,-1e400]") == .array([.double(.infinity), .double(-.infinity)]))
    }

    @Test func decimalsRoundToTheNearestDouble() throws {
        #expect(try parsed("0.1") == .double(0.1))
        #expect(try parsed("2.2250738585072011e-308") == .double(Double.leastNormalMagnitude.nextDown))  // the largest subnormal
    }

    @Test func stringEscapesAreResolved() throws {
        #expect(try parsed(#""\"\\\/\b\f\n\r\t\u00e9\u0000""#) == .string("\"\\/\u{8}\u{C}\n\r\té\u{0}"))
    }

    @Test func surrogatePairEscapesBecomeOneScalar() throws {
        #expect(try messagePack(fromJSON: #""\ud83d\ude00""#) == [0xA4, 0xF0, 0x9F, 0x98, 0x80])
    }

    @Test func loneSurrogateEscapeBecomesReplacementCharacter() throws {
        #expect(try parsed(#""a\ud800b""#) == .string("a\u{FFFD}b"))
    }

    @Test func rawUTF8IsCopiedAsIs() throws {
        #expect(try parsed(#""日本語 😀""#) == .string("日本語 😀"))
    }

    @Test func objectsKeepMemberOrderAndDuplicateKeys() throws {
        let expected = MessagePackValue.map([
            MessagePackMapEntry(key: .string("b"), value: .int(1)),
            MessagePackMapEntry(key: .string("a"), value: .int(2)),
            MessagePackMapEntry(key: .string("b"), value: .int(3)),
        ])
        #expect(try parsed(#"{"b":1,"a":2,"b":3}"#) == expected)
    }

    @Test func whitespaceIsIgnored() throws {
        #expect(try messagePack(fromJSON: " {\n \"a\" : [ 1 , \"x y\" ] }\t") == [0x81, 0xA1, 0x61, 0x92, 0x01, 0xA3, 0x78, 0x20, 0x79])
    }

    @Test func binaryLookingObjectsStayMaps() throws {
        #expect(try parsed(#"{"$binary":"AA=="}"#) == .map([MessagePackMapEntry(key: .string("$binary"), value: .string("AA=="))]))
    }

    @Test func invalidJSONIsRefusedWithTheScannersOffsetAndReason() {
        #expect(throws: JSONSyntaxError(offset: 4, reason: "trailing comma")) { try messagePack(fromJSON: "[1, ]") }
        #expect(throws: JSONSyntaxError(offset: 2, reason: "trailing characters after the value")) { try messagePack(fromJSON: "1 2") }
    }

    @Test func jsonNestedDeeperThan64IsRefused() {
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONSyntaxError(offset: 64, reason: "nesting deeper than 64")) { try messagePack(fromJSON: deep) }
    }

    @Test func jsonNested64DeepIsAccepted() throws {
        let deep = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(try messagePack(fromJSON: deep) == [UInt8](repeating: 0x91, count: 63) + [0x90])
    }
}

struct MessagePackToJSONTests {
    @Test func scalarsBecomeMinifiedJSON() throws {
        let value = MessagePackValue.array([.nil, .bool(true), .bool(false), .int(-5), .uint(.max), .string("a\"\n")])
        #expect(try json(from: value) == #"[null,true,false,-5,18446744073709551615,"a\"\n"]"#)
    }

    @Test func mapsBecomeObjectsInOrder() throws {
        let value = MessagePackValue.map([
            MessagePackMapEntry(key: .string("z"), value: .map([])),
            MessagePackMapEntry(key: .string("a"), value: .array([])),
        ])
        #expect(try json(from: value) == #"{"z":{},"a":[]}"#)
    }

    @Test(arguments: [
        (1.0, "1.0"), (-0.0, "-0.0"), (0.1, "0.1"), (1e16, "1e+16"), (1e-5, "1e-05"), (Double.leastNonzeroMagnitude, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"), (123456.78901234567, "123456.78901234567"),
    ])
    func doublesUseTheShortestTextThatReadsBackAsTheSameFloat(value: Double, text: String) throws {
        #expect(try json(from: .double(value)) == text)
        #expect(try parsed(text) == .double(value))
    }

    @Test func float32IsWrittenAsItsExactDoubleValue() throws {
        #expect(try json(fromMessagePack: [0xCA, 0x3F, 0xC0, 0x00, 0x00]) == "1.5")
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity])
    func nonFiniteDoublesAreRefused(value: Double) {
        #expect(transcodingError(.array([.int(1), .double(value)]))?.offset == 2)
        #expect(transcodingError(.double(value))?.reason.hasSuffix("has no JSON form") == true)
    }

    @Test(arguments: [
        ([UInt8](), #"{"$binary":""}"#), ([0x00], #"{"$binary":"AA=="}"#), ([0x01, 0x02], #"{"$binary":"AQI="}"#),
        ([0xFF, 0xFE, 0xFD], #"{"$binary":"//79"}"#), (Array("hello world".utf8), #"{"$binary":"aGVsbG8gd29ybGQ="}"#),
    ])
    func binaryBecomesABase64Object(bytes: [UInt8], text: String) throws {
        #expect(try json(from: .binary(ByteBuffer(bytes: bytes))) == text)
    }

    @Test func nonStringMapKeysAreRefusedAtTheKey() {
        let value = MessagePackValue.map([
            MessagePackMapEntry(key: .string("a"), value: .int(1)),
            MessagePackMapEntry(key: .int(2), value: .int(3)),
        ])
        #expect(transcodingError(value) == MessagePackError(offset: 4, reason: "map key is not a string, which JSON cannot hold"))
    }

    @Test func extensionValuesAreRefused() {
        #expect(
            transcodingError(.ext(type: -1, data: ByteBuffer(bytes: [0, 0, 0, 0])))
                == MessagePackError(offset: 0, reason: "extension type -1 has no JSON form"))
    }

    @Test func hostileInputIsRefusedLikeDecoding() {
        #expect(transcodingError([0x92, 0x01]) == MessagePackError(offset: 0, reason: "array of 2 elements but only 1 bytes left"))
        #expect(transcodingError([0xA1, 0xFF])?.reason == "invalid UTF-8 in string")
        #expect(transcodingError([0xC0, 0xC0])?.reason == "1 trailing bytes after the value")
        #expect(transcodingError([UInt8](repeating: 0x91, count: 65) + [0xC0])?.reason == "nesting deeper than 64")
        #expect(transcodingError([UInt8](repeating: 0x81, count: 65))?.reason == "map key is not a string, which JSON cannot hold")
    }

    @Test func nesting64DeepIsAccepted() throws {
        #expect(
            try json(fromMessagePack: [UInt8](repeating: 0x91, count: 64) + [0xC0]) == String(repeating: "[", count: 64) + "null"
                + String(repeating: "]", count: 64))
    }

    @Test func jsonRoundTripIsStable() throws {
        let text = #"{"a":[1,-2,3.5,"x",null,true,{"b":18446744073709551615}],"c":"日本 😀","d":1.0}"#
        let bytes = try messagePack(fromJSON: text)
        #expect(try json(fromMessagePack: bytes) == text)
    }
}

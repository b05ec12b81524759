import NIOCore
import SwitchboardCore
import Testing

private func buffer(_ text: String) -> ByteBuffer {
    ByteBuffer(string: text)
}

private func buffer(_ bytes: [UInt8]) -> ByteBuffer {
    ByteBuffer(bytes: bytes)
}

/// A JSON string token: quotes around `inner`, which is inserted as raw bytes.
private func stringToken(_ inner: [UInt8]) -> ByteBuffer {
    buffer([UInt8(ascii: "\"")] + inner + [UInt8(ascii: "\"")])
}

private func minified(_ text: String, maxDepth: Int = 64) throws -> String {
    String(buffer: try JSONScanner.validateAndMinify(buffer(text), maxDepth: maxDepth))
}

private func syntaxError(_ bytes: ByteBuffer, maxDepth: Int = 64) -> JSONSyntaxError? {
    do {
        _ = try JSONScanner.validateAndMinify(bytes, maxDepth: maxDepth)
        return nil
    } catch {
        return error
    }
}

private func syntaxError(_ text: String, maxDepth: Int = 64) -> JSONSyntaxError? {
    syntaxError(buffer(text), maxDepth: maxDepth)
}

private func baseAddress(_ bytes: ByteBuffer) -> UnsafeRawPointer? {
    bytes.withUnsafeReadableBytes { $0.baseAddress }
}

struct JSONScannerValidationTests {
    @Test(arguments: [
        "{}", "[]", "\"\"", "\"x\"", "0", "-0", "42", "true", "false", "null", "[1,\"a\",{\"b\":null}]", "{\"a\":{\"b\":[true,false]}}",
    ])
    func acceptsAnyTopLevelValue(text: String) throws {
        #expect(try minified(text) == text)
    }

    @Test(arguments: [
        "0", "-0", "0.0", "-0.5", "0e0", "0E+1", "1e-1", "1E5", "10", "1.25e+308", "-1.7976931348623157e308",
        "123456789012345678901234567890", "5e-324",
    ])
    func acceptsNumbersAllowedByTheGrammar(text: String) throws {
        #expect(try minified(text) == text)
    }

    @Test func returnsASliceOfTheInputWhenThereIsNoWhitespace() throws {
        let input = buffer("{\"a\":[1,2],\"b\":\"x y\"}")
        let output = try JSONScanner.validateAndMinify(input)
        #expect(output == input)
        #expect(baseAddress(output) == baseAddress(input))
    }

    @Test func returnsASliceWhenWhitespaceOnlySurroundsTheValue() throws {
        let input = buffer(" \n\t[1,2]\r\n ")
        let output = try JSONScanner.validateAndMinify(input)
        #expect(String(buffer: output) == "[1,2]")
        #expect(baseAddress(output) == baseAddress(input).map { $0 + 3 })
    }

    @Test func removesWhitespaceBetweenTokens() throws {
        let text = " { \"a\" : [ 1 , 2 ] ,\n\t\"b\" : { } , \"c\" : [ ] }\r\n"
        #expect(try minified(text) == "{\"a\":[1,2],\"b\":{},\"c\":[]}")
    }

    @Test func keepsWhitespaceInsideStrings() throws {
        #expect(try minified("[ \" a  b \\t \" , \"{ }\" ]") == "[\" a  b \\t \",\"{ }\"]")
    }

    @Test func keepsMultibyteCharactersWhenMinifying() throws {
        #expect(try minified("{ \"é\" : \"😀 €\" }") == "{\"é\":\"😀 €\"}")
    }

    @Test(arguments: ["[1,\u{0C}2]", "[1,\u{A0}2]", "\u{FEFF}[1]", "[1,\u{0B}2]"])
    func treatsOnlySpaceTabLineFeedAndCarriageReturnAsWhitespace(text: String) {
        #expect(syntaxError(text) != nil)
    }

    @Test func measuresOffsetsFromTheReaderIndex() {
        var input = buffer("xxxx[1,]")
        input.moveReaderIndex(forwardBy: 4)
        #expect(syntaxError(input) == JSONSyntaxError(offset: 3, reason: "trailing comma"))
    }

    @Test func rejectsEmptyInput() {
        #expect(syntaxError("") == JSONSyntaxError(offset: 0, reason: "unexpected end of input"))
    }

    @Test func rejectsWhitespaceOnlyInput() {
        #expect(syntaxError(" \n\t\r") == JSONSyntaxError(offset: 4, reason: "unexpected end of input"))
    }

    @Test func describesAnErrorByReasonAndOffset() {
        #expect(JSONSyntaxError(offset: 7, reason: "invalid escape").description == "invalid escape at byte 7")
    }
}

struct JSONScannerNumberTests {
    @Test(arguments: ["01", "-01", "00", "[1,007]"])
    func rejectsLeadingZeros(text: String) {
        #expect(syntaxError(text)?.reason == "leading zero in number")
    }

    @Test func reportsTheLeadingZeroOffset() {
        #expect(syntaxError("[-012]") == JSONSyntaxError(offset: 2, reason: "leading zero in number"))
    }

    @Test(arguments: ["+1", ".5", "-.5", "-a", "1.e5", "1.x", "1ex", "1e+x", "0x10", "1_000"])
    func rejectsMalformedNumbers(text: String) {
        #expect(syntaxError(text) != nil)
    }

    @Test(arguments: ["5.", "-", "1e", "1e+", "1E-"])
    func rejectsNumbersCutShort(text: String) {
        #expect(syntaxError(text) == JSONSyntaxError(offset: text.utf8.count, reason: "unexpected end of input"))
    }

    @Test(arguments: ["NaN", "Infinity", "-Infinity", "[nan]"])
    func rejectsNonFiniteNumbers(text: String) {
        #expect(syntaxError(text) != nil)
    }
}

struct JSONScannerLiteralTests {
    @Test(arguments: ["True", "nul", "fals", "nulll", "truefalse", "[tru]", "undefined", "'a'"])
    func rejectsMisspelledLiterals(text: String) {
        #expect(syntaxError(text) != nil)
    }

    @Test func reportsALiteralCutShortAsEndOfInput() {
        #expect(syntaxError("[tr") == JSONSyntaxError(offset: 3, reason: "unexpected end of input"))
    }
}

struct JSONScannerStringTests {
    @Test func acceptsEveryEscapeTheRFCAllows() throws {
        let text = #"["\" \\ \/ \b \f \n \r \t \u00e9 \u20AC \uD83D\uDE00"]"#
        #expect(try minified(text) == text)
    }

    @Test(arguments: [#""\uD800""#, #""\uDC00x""#, #""\uDBFF\u0041""#, #""\uDE00\uD83D""#])
    func acceptsLoneSurrogateEscapes(text: String) throws {
        #expect(try minified(text) == text)
    }

    @Test(arguments: [#""\a""#, #""\x41""#, #""\'""#, #""\U0041""#, #""\u12G4""#, #""\u12""#, #""\ ""#, #""\0""#])
    func rejectsInvalidEscapes(text: String) {
        #expect(syntaxError(text) == JSONSyntaxError(offset: 1, reason: "invalid escape"))
    }

    @Test func rejectsAnEscapeCutShortByEndOfInput() {
        #expect(syntaxError(#""\u00"#) == JSONSyntaxError(offset: 5, reason: "unexpected end of input"))
    }

    @Test(arguments: [0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1F] as [UInt8])
    func rejectsRawControlCharactersInStrings(byte: UInt8) {
        let input = stringToken([UInt8(ascii: "a"), byte])
        #expect(syntaxError(input) == JSONSyntaxError(offset: 2, reason: "control character in string"))
    }

    @Test func acceptsDeleteCharacterInStrings() {
        #expect(syntaxError(stringToken([0x7F])) == nil)
    }

    @Test func rejectsUnterminatedStrings() {
        #expect(syntaxError("\"abc") == JSONSyntaxError(offset: 4, reason: "unexpected end of input"))
    }

    @Test(
        arguments: [
            [0xC3, 0xA9],  // é
            [0xE2, 0x82, 0xAC],  // €
            [0xF0, 0x9F, 0x98, 0x80],  // 😀
            [0xC2, 0x80],  // U+0080, the smallest two-byte scalar
            [0xE0, 0xA0, 0x80],  // U+0800, the smallest three-byte scalar
            [0xED, 0x9F, 0xBF],  // U+D7FF, just below the surrogates
            [0xEE, 0x80, 0x80],  // U+E000, just above the surrogates
            [0xEF, 0xBF, 0xBF],  // U+FFFF
            [0xF0, 0x90, 0x80, 0x80],  // U+10000, the smallest four-byte scalar
            [0xF4, 0x8F, 0xBF, 0xBF],  // U+10FFFF, the largest scalar
        ] as [[UInt8]])
    func acceptsWellFormedMultibyteUTF8(sequence: [UInt8]) {
        #expect(syntaxError(stringToken(sequence)) == nil)
    }

    @Test(
        arguments: [
            [0xC0, 0x80],  // overlong NUL
            [0xC1, 0xBF],  // overlong two-byte
            [0xE0, 0x80, 0x80],  // overlong three-byte
            [0xE0, 0x9F, 0xBF],  // overlong U+07FF
            [0xF0, 0x80, 0x80, 0x80],  // overlong four-byte
            [0xF0, 0x8F, 0xBF, 0xBF],  // overlong U+FFFF
            [0xED, 0xA0, 0x80],  // encoded high surrogate U+D800
            [0xED, 0xBF, 0xBF],  // encoded low surrogate U+DFFF
            [0xF4, 0x90, 0x80, 0x80],  // U+110000, above the maximum
            [0xF5, 0x80, 0x80, 0x80],  // lead byte that can only start > U+10FFFF
            [0xFF],
            [0xFE],
            [0x80],  // continuation byte without a lead
            [0xBF],
            [0xC3, 0x28],  // lead followed by ASCII
            [0xE2, 0x82],  // truncated three-byte, then the closing quote
            [0xF0, 0x9F, 0x98],  // truncated four-byte, then the closing quote
        ] as [[UInt8]])
    func rejectsInvalidUTF8(sequence: [UInt8]) {
        #expect(syntaxError(stringToken(sequence)) == JSONSyntaxError(offset: 1, reason: "invalid UTF-8"))
    }

    @Test func reportsTheOffsetOfAStrayContinuationByteAfterAValidSequence() {
        #expect(syntaxError(stringToken([0xE2, 0x82, 0xAC, 0xAC])) == JSONSyntaxError(offset: 4, reason: "invalid UTF-8"))
    }

    @Test func reportsAMultibyteSequenceCutShortByEndOfInput() {
        #expect(syntaxError(buffer([UInt8(ascii: "\""), 0xE2, 0x82])) == JSONSyntaxError(offset: 3, reason: "unexpected end of input"))
    }

    @Test func rejectsNonASCIIBytesOutsideStrings() {
        #expect(syntaxError(buffer([UInt8(ascii: "["), 0xC3, 0xA9, UInt8(ascii: "]")])) != nil)
    }
}

struct JSONScannerStructureTests {
    @Test func rejectsATrailingCommaInAnArray() {
        #expect(syntaxError("[1, ]") == JSONSyntaxError(offset: 4, reason: "trailing comma"))
    }

    @Test func rejectsATrailingCommaInAnObject() {
        #expect(syntaxError("{\"a\":1,}") == JSONSyntaxError(offset: 7, reason: "trailing comma"))
    }

    @Test(arguments: ["[,1]", "[1,,2]", "{,}", "{\"a\":1,,\"b\":2}", "[,]"])
    func rejectsMissingElements(text: String) {
        #expect(syntaxError(text) != nil)
    }

    @Test(arguments: ["[1]//c", "//c\n[1]", "/*c*/1", "[1/*c*/]", "# c\n1"])
    func rejectsComments(text: String) {
        #expect(syntaxError(text) != nil)
    }

    @Test(arguments: ["1 2", "{} {}", "[1]]", "\"a\"x", "truex", "null,", "0 0"])
    func rejectsTrailingCharactersAfterTheValue(text: String) {
        #expect(syntaxError(text)?.reason == "trailing characters after the value")
    }

    @Test func rejectsAMissingColon() {
        #expect(syntaxError("{\"a\" 1}") == JSONSyntaxError(offset: 5, reason: "expected ':'"))
    }

    @Test(arguments: ["{1:2}", "{a:1}", "{'a':1}", "{null:1}"])
    func rejectsKeysThatAreNotStrings(text: String) {
        #expect(syntaxError(text) == JSONSyntaxError(offset: 1, reason: "expected a string key"))
    }

    @Test func rejectsMissingSeparatorsInArrays() {
        #expect(syntaxError("[1 2]") == JSONSyntaxError(offset: 3, reason: "expected ',' or ']'"))
    }

    @Test func rejectsMissingSeparatorsInObjects() {
        #expect(syntaxError("{\"a\":1 \"b\":2}") == JSONSyntaxError(offset: 7, reason: "expected ',' or '}'"))
    }

    @Test(arguments: ["[1}", "{\"a\":1]", "[{]}", "{\"a\"}", "{\"a\":}", "[:]"])
    func rejectsMismatchedOrMisplacedPunctuation(text: String) {
        #expect(syntaxError(text) != nil)
    }

    @Test(arguments: ["[", "{", "[1,", "[1", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,", "[[[]]"])
    func rejectsUnclosedContainers(text: String) {
        #expect(syntaxError(text) == JSONSyntaxError(offset: text.utf8.count, reason: "unexpected end of input"))
    }

    @Test(arguments: ["]", "}", ":", ","])
    func rejectsPunctuationWhereAValueShouldStart(text: String) {
        #expect(syntaxError(text) == JSONSyntaxError(offset: 0, reason: "expected a value"))
    }
}

struct JSONScannerDepthTests {
    @Test func acceptsNestingUpToTheDefaultMaximumDepth() throws {
        let text = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(try minified(text) == text)
    }

    @Test func refusesNestingOneLevelDeeperThanTheMaximum() {
        let text = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(syntaxError(text) == JSONSyntaxError(offset: 64, reason: "nesting deeper than 64"))
    }

    @Test func refusesTenThousandOpeningBracketsWithoutCrashing() {
        #expect(syntaxError(String(repeating: "[", count: 10_000))?.reason == "nesting deeper than 64")
    }

    @Test func scansTenThousandLevelsIterativelyWhenAllowed() throws {
        let text = String(repeating: "[{\"a\":", count: 5_000) + "1" + String(repeating: "}]", count: 5_000)
        #expect(try minified(text, maxDepth: 10_000) == text)
    }

    @Test func countsArraysAndObjectsTogether() {
        let text = "{\"a\":[{\"b\":[]}]}"
        #expect(syntaxError(text, maxDepth: 4) == nil)
        #expect(syntaxError(text, maxDepth: 3)?.reason == "nesting deeper than 3")
    }

    @Test func allowsOnlyScalarsWhenMaximumDepthIsZero() {
        #expect(syntaxError("\"x\"", maxDepth: 0) == nil)
        #expect(syntaxError("[]", maxDepth: 0) == JSONSyntaxError(offset: 0, reason: "nesting deeper than 0"))
    }
}

struct JSONScannerObjectMembersTests {
    @Test func splitsMembersInOrderWithKeysDecoded() throws {
        let members = try JSONScanner.objectMembers(buffer(#"{"a" : [1, 2] , "b":"x\"y"}"#))
        #expect(members.map(\.key) == ["a", "b"])
        #expect(members.map { String(buffer: $0.value) } == ["[1, 2]", #""x\"y""#])
    }

    @Test func keepsInnerWhitespaceOfMemberValues() throws {
        let members = try JSONScanner.objectMembers(buffer("{\"data\":\n  { \"x\" : [ 1 ,\t2 ] }\n}"))
        #expect(members.map { String(buffer: $0.value) } == ["{ \"x\" : [ 1 ,\t2 ] }"])
    }

    @Test func leavesMemberValuesUndecoded() throws {
        let members = try JSONScanner.objectMembers(buffer(#"{"s":"\u00e9","n":-1.5e3,"t":true,"z":null}"#))
        #expect(members.map { String(buffer: $0.value) } == [#""\u00e9""#, "-1.5e3", "true", "null"])
    }

    @Test func splitsAClientCommand() throws {
        let text = #"{"id":1,"cmd":"publish","channel":"chat:a","data":{"text":"hi","n":[1,2]}}"#
        let members = try JSONScanner.objectMembers(buffer(text))
        #expect(members.map(\.key) == ["id", "cmd", "channel", "data"])
        #expect(JSONScanner.decodeInteger(members[0].value) == 1)
        #expect(JSONScanner.decodeString(members[1].value) == "publish")
        #expect(String(buffer: members[3].value) == #"{"text":"hi","n":[1,2]}"#)
    }

    @Test func decodesEscapesInKeys() throws {
        let members = try JSONScanner.objectMembers(buffer(#"{"a\u0062\n\uD83D\uDE00":1}"#))
        #expect(members.map(\.key) == ["ab\n😀"])
    }

    @Test func keepsDuplicateKeys() throws {
        let members = try JSONScanner.objectMembers(buffer(#"{"a":1,"a":2}"#))
        #expect(members.map(\.key) == ["a", "a"])
        #expect(members.map { String(buffer: $0.value) } == ["1", "2"])
    }

    @Test func returnsNoMembersForAnEmptyObject() throws {
        #expect(try JSONScanner.objectMembers(buffer(" { \n } ")).isEmpty)
    }

    @Test func allowsWhitespaceAroundTheObject() throws {
        let members = try JSONScanner.objectMembers(buffer(" \n{\"a\":1}\t "))
        #expect(members.map(\.key) == ["a"])
    }

    @Test(arguments: ["[1]", "\"x\"", "1", "null"])
    func refusesATopLevelValueThatIsNotAnObject(text: String) {
        #expect(throws: JSONSyntaxError(offset: 0, reason: "expected an object")) {
            try JSONScanner.objectMembers(buffer(text))
        }
    }

    @Test func refusesEmptyInput() {
        #expect(throws: JSONSyntaxError(offset: 0, reason: "unexpected end of input")) {
            try JSONScanner.objectMembers(buffer(""))
        }
    }

    @Test(arguments: [#"{"a":[1,]}"#, #"{"a":01}"#, #"{"a":"\q"}"#, #"{"a":tru}"#, "{\"a\":\"\u{01}\"}"])
    func validatesMemberValuesFully(text: String) {
        #expect(throws: JSONSyntaxError.self) {
            try JSONScanner.objectMembers(buffer(text))
        }
    }

    @Test func refusesAnInvalidUTF8Key() {
        let input = buffer(Array("{\"".utf8) + [0xC0, 0x80] + Array("\":1}".utf8))
        #expect(throws: JSONSyntaxError(offset: 2, reason: "invalid UTF-8")) {
            try JSONScanner.objectMembers(input)
        }
    }

    @Test func refusesATrailingCommaAfterTheLastMember() {
        #expect(throws: JSONSyntaxError(offset: 8, reason: "trailing comma")) {
            try JSONScanner.objectMembers(buffer(#"{"a":1, }"#))
        }
    }

    @Test func refusesTrailingCharactersAfterTheObject() {
        #expect(throws: JSONSyntaxError(offset: 8, reason: "trailing characters after the value")) {
            try JSONScanner.objectMembers(buffer(#"{"a":1} x"#))
        }
    }

    @Test func refusesAnUnclosedObject() {
        #expect(throws: JSONSyntaxError(offset: 6, reason: "unexpected end of input")) {
            try JSONScanner.objectMembers(buffer(#"{"a":1"#))
        }
    }

    @Test func countsTheTopLevelObjectTowardsMaximumDepth() throws {
        #expect(try JSONScanner.objectMembers(buffer(#"{"a":1}"#), maxDepth: 1).count == 1)
        #expect(throws: JSONSyntaxError(offset: 5, reason: "nesting deeper than 1")) {
            try JSONScanner.objectMembers(buffer(#"{"a":[]}"#), maxDepth: 1)
        }
    }

    @Test func slicesValuesRelativeToTheReaderIndex() throws {
        var input = buffer(#"junk{"a":[true]}"#)
        input.moveReaderIndex(forwardBy: 4)
        let members = try JSONScanner.objectMembers(input)
        #expect(members.map { String(buffer: $0.value) } == ["[true]"])
    }
}

struct JSONScannerDecodeStringTests {
    @Test func decodesAPlainString() {
        #expect(JSONScanner.decodeString(buffer(#""hello, world""#)) == "hello, world")
    }

    @Test func decodesAnEmptyString() {
        #expect(JSONScanner.decodeString(buffer(#""""#)) == "")
    }

    @Test func decodesShortEscapes() {
        #expect(JSONScanner.decodeString(buffer(#""\" \\ \/ \b \f \n \r \t""#)) == "\" \\ / \u{08} \u{0C} \n \r \t")
    }

    @Test func decodesUnicodeEscapesInEitherCase() {
        #expect(JSONScanner.decodeString(buffer(#""\u0041\u00e9\u00E9\u20ac\u0000""#)) == "Aéé€\u{0}")
    }

    @Test func decodesSurrogatePairEscapes() {
        #expect(JSONScanner.decodeString(buffer(#""\uD83D\uDE00 \ud834\udd1e""#)) == "😀 𝄞")
    }

    @Test(arguments: [
        (#""\uD800""#, "\u{FFFD}"),
        (#""\uDC00""#, "\u{FFFD}"),
        (#""\uD800\u0041""#, "\u{FFFD}A"),
        (#""\uD800\uD800""#, "\u{FFFD}\u{FFFD}"),
        (#""\uDE00\uD83D""#, "\u{FFFD}\u{FFFD}"),
        (#""\uD83Dx""#, "\u{FFFD}x"),
    ])
    func replacesLoneSurrogateEscapesWithTheReplacementCharacter(raw: String, decoded: String) {
        #expect(JSONScanner.decodeString(buffer(raw)) == decoded)
    }

    @Test func keepsRawMultibyteCharacters() {
        #expect(JSONScanner.decodeString(buffer("\"é😀\\n€\"")) == "é😀\n€")
    }

    @Test(arguments: ["abc", "\"abc", "\"a\"b", " \"a\"", "\"a\" ", "\"\\x\"", "\"", "", "'a'", "1"])
    func returnsNilForTextThatIsNotAStringToken(raw: String) {
        #expect(JSONScanner.decodeString(buffer(raw)) == nil)
    }

    @Test func returnsNilForInvalidUTF8() {
        #expect(JSONScanner.decodeString(stringToken([0xED, 0xA0, 0x80])) == nil)
    }
}

struct JSONScannerDecodeIntegerTests {
    @Test(
        arguments: [
            ("0", 0), ("-0", 0), ("7", 7), ("-42", -42), ("1000000", 1_000_000),
            ("9223372036854775807", Int64.max), ("-9223372036854775808", Int64.min),
        ] as [(String, Int64)])
    func decodesIntegers(raw: String, value: Int64) {
        #expect(JSONScanner.decodeInteger(buffer(raw)) == value)
    }

    @Test(arguments: ["9223372036854775808", "-9223372036854775809", "99999999999999999999999"])
    func returnsNilOnOverflow(raw: String) {
        #expect(JSONScanner.decodeInteger(buffer(raw)) == nil)
    }

    @Test(arguments: ["1.0", "1e3", "1E0", "-0.0", "0.5"])
    func returnsNilForFractionsAndExponents(raw: String) {
        #expect(JSONScanner.decodeInteger(buffer(raw)) == nil)
    }

    @Test(arguments: ["", "-", "01", "-01", "+1", " 1", "1 ", "\"1\"", "1a", "--1", "true"])
    func returnsNilForTextThatIsNotAnIntegerToken(raw: String) {
        #expect(JSONScanner.decodeInteger(buffer(raw)) == nil)
    }
}

struct JSONScannerKindTests {
    @Test(arguments: [
        ("{}", JSONValueKind.object), ("[1]", .array), ("\"s\"", .string), ("-1", .number), ("0", .number), ("9", .number),
        ("true", .bool), ("false", .bool), ("null", .null),
    ])
    func tellsTheKindByTheFirstByte(raw: String, kind: JSONValueKind) {
        #expect(JSONScanner.kind(of: buffer(raw)) == kind)
    }

    @Test(arguments: ["", " 1", "x", "]"])
    func returnsNilWhenNoValueStartsThere(raw: String) {
        #expect(JSONScanner.kind(of: buffer(raw)) == nil)
    }
}

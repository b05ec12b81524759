import NIOCore
import SwitchboardCore
import Testing

private func encoded(_ value: MessagePackValue) -> [UInt8] {
    Array(value.encoded().readableBytesView)
}

private func decoded(_ bytes: [UInt8]) throws -> MessagePackValue {
    try MessagePackValue(decoding: ByteBuffer(bytes: bytes))
}

private func decodingError(_ bytes: [UInt8], maxDepth: Int = 64) -> MessagePackError? {
    do {
        _ = try MessagePackValue(decoding: ByteBuffer(bytes: bytes), maxDepth: maxDepth)
        return nil
    } catch {
        return error
    }
}

/// Checks the first bytes of the encoding (the format byte and any length), and that decoding gives the value back.
private func expectRoundTrip(_ value: MessagePackValue, startsWith prefix: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
    let bytes = encoded(value)
    #expect(Array(bytes.prefix(prefix.count)) == prefix, sourceLocation: sourceLocation)
    #expect(try decoded(bytes) == value, sourceLocation: sourceLocation)
}

private func string(bytes count: Int) -> MessagePackValue {
    .string(String(repeating: "x", count: count))
}

private func binary(bytes count: Int) -> MessagePackValue {
    .binary(ByteBuffer(bytes: (0..<count).map { UInt8(truncatingIfNeeded: $0) }))
}

private func array(count: Int) -> MessagePackValue {
    .array(Array(repeating: .nil, count: count))
}

private func map(count: Int) -> MessagePackValue {
    .map((0..<count).map { MessagePackMapEntry(key: .int(Int64($0)), value: .nil) })
}

/// Each value with its expected encoding, on both sides of every format boundary.
private let integerBoundaries: [(Int64, [UInt8])] = [
    (Int64(0), [UInt8(0x00)]), (127, [0x7F]),
    (128, [0xCC, 0x80]), (255, [0xCC, 0xFF]),
    (256, [0xCD, 0x01, 0x00]), (65535, [0xCD, 0xFF, 0xFF]),
    (65536, [0xCE, 0x00, 0x01, 0x00, 0x00]), (4_294_967_295, [0xCE, 0xFF, 0xFF, 0xFF, 0xFF]),
    (4_294_967_296, [0xCF, 0, 0, 0, 1, 0, 0, 0, 0]), (Int64.max, [0xCF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
    (-1, [0xFF]), (-32, [0xE0]),
    (-33, [0xD0, 0xDF]), (-128, [0xD0, 0x80]),
    (-129, [0xD1, 0xFF, 0x7F]), (-32768, [0xD1, 0x80, 0x00]),
    (-32769, [0xD2, 0xFF, 0xFF, 0x7F, 0xFF]), (Int64(Int32.min), [0xD2, 0x80, 0x00, 0x00, 0x00]),
    (Int64(Int32.min) - 1, [0xD3, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF]), (Int64.min, [0xD3, 0x80, 0, 0, 0, 0, 0, 0, 0]),
]

struct MessagePackRoundTripTests {
    @Test func nilAndBooleansUseTheirSingleByteFormats() throws {
        try expectRoundTrip(.nil, startsWith: [0xC0])
        try expectRoundTrip(.bool(false), startsWith: [0xC2])
        try expectRoundTrip(.bool(true), startsWith: [0xC3])
    }

    @Test(arguments: integerBoundaries)
    func integersUseTheSmallestFormatOnEachSideOfEveryBoundary(value: Int64, bytes: [UInt8]) throws {
        #expect(encoded(.int(value)) == bytes)
        #expect(try decoded(bytes) == .int(value))
    }

    @Test func unsignedIntegersAboveInt64MaxUseUInt64() throws {
        try expectRoundTrip(.uint(UInt64(Int64.max) + 1), startsWith: [0xCF, 0x80, 0, 0, 0, 0, 0, 0, 0])
        try expectRoundTrip(.uint(UInt64.max), startsWith: [0xCF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
    }

    @Test func unsignedIntegersThatFitInt64DecodeAsInt() throws {
        #expect(encoded(.uint(200)) == encoded(.int(200)))
        #expect(try decoded([0xCF, 0, 0, 0, 0, 0, 0, 0, 5]) == .int(5))
    }

    @Test func signedFormatsHoldingNonNegativeValuesDecode() throws {
        // Other encoders may use the signed formats for positive values; the spec allows it.
        #expect(try decoded([0xD0, 0x05]) == .int(5))
        #expect(try decoded([0xD3, 0, 0, 0, 0, 0, 0, 0x01, 0x00]) == .int(256))
    }

    @Test(arguments: [0.0, -0.0, 0.5, -1.5, 1.0, 0.1, 1e300, .leastNonzeroMagnitude, Double.greatestFiniteMagnitude, .infinity, -.infinity])
    func doublesAreAlwaysFloat64(value: Double) throws {
        try expectRoundTrip(.double(value), startsWith: [0xCB])
        #expect(encoded(.double(value)).count == 9)
    }

    @Test func negativeZeroKeepsItsSign() throws {
        guard case .double(let value) = try decoded(encoded(.double(-0.0))) else { throw Failure("not a double") }
        #expect(value.sign == .minus)
    }

    @Test func nanRoundTripsAsNaN() throws {
        guard case .double(let value) = try decoded(encoded(.double(.nan))) else { throw Failure("not a double") }
        #expect(value.isNaN)
    }

    @Test func float32IsWrittenOnRequestAndReadAsDouble() throws {
        var writer = MessagePackWriter()
        writer.float(1.5)
        #expect(Array(writer.buffer.readableBytesView) == [0xCA, 0x3F, 0xC0, 0x00, 0x00])
        #expect(try MessagePackValue(decoding: writer.buffer) == .double(1.5))
    }

    @Test(arguments: [
        (0, [UInt8(0xA0)]), (31, [0xBF]),
        (32, [0xD9, 32]), (255, [0xD9, 255]),
        (256, [0xDA, 0x01, 0x00]), (65535, [0xDA, 0xFF, 0xFF]),
        (65536, [0xDB, 0x00, 0x01, 0x00, 0x00]),
    ])
    func stringsUseTheSmallestFormatOnEachSideOfEveryBoundary(length: Int, header: [UInt8]) throws {
        try expectRoundTrip(string(bytes: length), startsWith: header)
        #expect(encoded(string(bytes: length)).count == header.count + length)
    }

    @Test func stringLengthCountsUTF8BytesNotCharacters() throws {
        // 16 × "é" is 16 characters but 32 bytes: str 8, not fixstr.
        try expectRoundTrip(.string(String(repeating: "é", count: 16)), startsWith: [0xD9, 32])
    }

    @Test func multiByteStringsRoundTrip() throws {
        try expectRoundTrip(.string("日本語 😀 \u{0}"), startsWith: [0xB0])
    }

    @Test(arguments: [
        (0, [UInt8(0xC4), 0]), (255, [0xC4, 255]),
        (256, [0xC5, 0x01, 0x00]), (65535, [0xC5, 0xFF, 0xFF]),
        (65536, [0xC6, 0x00, 0x01, 0x00, 0x00]),
    ])
    func binaryUsesTheSmallestFormatOnEachSideOfEveryBoundary(length: Int, header: [UInt8]) throws {
        try expectRoundTrip(binary(bytes: length), startsWith: header)
    }

    @Test(arguments: [
        (0, [UInt8(0x90)]), (15, [0x9F]),
        (16, [0xDC, 0x00, 16]), (65535, [0xDC, 0xFF, 0xFF]),
        (65536, [0xDD, 0x00, 0x01, 0x00, 0x00]),
    ])
    func arraysUseTheSmallestHeaderOnEachSideOfEveryBoundary(count: Int, header: [UInt8]) throws {
        try expectRoundTrip(array(count: count), startsWith: header)
    }

    @Test(arguments: [
        (0, [UInt8(0x80)]), (15, [0x8F]),
        (16, [0xDE, 0x00, 16]), (65535, [0xDE, 0xFF, 0xFF]),
        (65536, [0xDF, 0x00, 0x01, 0x00, 0x00]),
    ])
    func mapsUseTheSmallestHeaderOnEachSideOfEveryBoundary(count: Int, header: [UInt8]) throws {
        try expectRoundTrip(map(count: count), startsWith: header)
    }

    @Test func mapsKeepEntryOrderDuplicateKeysAndNonStringKeys() throws {
        let value = MessagePackValue.map([
            MessagePackMapEntry(key: .string("b"), value: .int(1)),
            MessagePackMapEntry(key: .string("a"), value: .int(2)),
            MessagePackMapEntry(key: .string("b"), value: .int(3)),
            MessagePackMapEntry(key: .array([.int(1)]), value: .nil),
        ])
        try expectRoundTrip(value, startsWith: [0x84, 0xA1, UInt8(ascii: "b"), 0x01])
    }

    @Test(arguments: [
        (0, [UInt8(0xC7), 0, 5]), (1, [0xD4, 5]), (2, [0xD5, 5]), (3, [0xC7, 3, 5]), (4, [0xD6, 5]), (8, [0xD7, 5]),
        (16, [0xD8, 5]), (17, [0xC7, 17, 5]), (256, [0xC8, 0x01, 0x00, 5]), (65536, [0xC9, 0x00, 0x01, 0x00, 0x00, 5]),
    ])
    func extensionsUseFixextWhenTheLengthAllows(length: Int, header: [UInt8]) throws {
        let data = ByteBuffer(repeating: 0xAB, count: length)
        try expectRoundTrip(.ext(type: 5, data: data), startsWith: header)
    }

    @Test func nestedDocumentsRoundTrip() throws {
        let value = MessagePackValue.map([
            MessagePackMapEntry(key: .string("list"), value: .array([.int(-1), .double(2.5), .string("x"), .binary(ByteBuffer(bytes: [1]))])),
            MessagePackMapEntry(key: .string("empty"), value: .map([])),
            MessagePackMapEntry(key: .string("big"), value: .uint(UInt64.max)),
        ])
        try expectRoundTrip(value, startsWith: [0x83])
    }

    @Test func nestingOf64LevelsIsAccepted() throws {
        let bytes = [UInt8](repeating: 0x91, count: 64) + [0xC0]
        #expect(try decoded(bytes).encoded() == ByteBuffer(bytes: bytes))
    }

    @Test func writerAppendsToAnExistingBuffer() {
        var writer = MessagePackWriter(buffer: ByteBuffer(bytes: [0xEE]))
        writer.nilValue()
        #expect(Array(writer.buffer.readableBytesView) == [0xEE, 0xC0])
    }

    @Test func decodingStartsAtTheReaderIndexAndLeavesTheBufferAlone() throws {
        var bytes = ByteBuffer(bytes: [0xFF, 0xFF, 0x01])
        bytes.moveReaderIndex(forwardBy: 2)
        #expect(try MessagePackValue(decoding: bytes) == .int(1))
        #expect(bytes.readableBytes == 1)
    }
}

struct MessagePackHostileInputTests {
    @Test func emptyInputIsAnError() {
        #expect(decodingError([]) == MessagePackError(offset: 0, reason: "unexpected end of input"))
    }

    @Test(arguments: [
        [UInt8(0xCC)], [0xCD, 0x01], [0xCE, 0, 0, 0], [0xCF, 0, 0, 0, 0, 0, 0, 0], [0xD0], [0xD1, 0], [0xD2, 0, 0, 0],
        [0xD3, 0], [0xCA, 0, 0], [0xCB, 0, 0, 0, 0, 0, 0, 0], [0xD9], [0xDA, 0], [0xDB, 0, 0, 0], [0xC4], [0xC5, 0],
        [0xC6, 0, 0], [0xDC, 0], [0xDD, 0, 0, 0], [0xDE], [0xDF, 0, 0], [0xD4], [0xC7, 1], [0xC7],
    ])
    func truncatedScalarsAndHeadersAreErrors(bytes: [UInt8]) {
        #expect(decodingError(bytes)?.reason == "unexpected end of input")
        #expect(decodingError(bytes)?.offset == 0)
    }

    @Test func truncatedStringIsAnErrorAtItsHeader() {
        #expect(
            decodingError([0x92, 0x01, 0xA3, UInt8(ascii: "a")]) == MessagePackError(offset: 2, reason: "string of 3 bytes but only 1 bytes left"))
    }

    @Test func arrayMissingElementsIsAnError() {
        #expect(decodingError([0x93, 0x01, 0x02]) == MessagePackError(offset: 0, reason: "array of 3 elements but only 2 bytes left"))
    }

    @Test func arrayWhoseLastElementIsCutShortIsAnError() {
        #expect(decodingError([0x92, 0x01, 0xCD, 0x01]) == MessagePackError(offset: 2, reason: "unexpected end of input"))
    }

    @Test func mapMissingAValueIsAnError() {
        #expect(decodingError([0x81, 0x01])?.reason == "map of 1 entries but only 1 bytes left")
    }

    @Test func hugeStringLengthHeaderIsAnErrorNotAnAllocation() {
        #expect(
            decodingError([0xDB, 0xFF, 0xFF, 0xFF, 0xFF, 0x61])
                == MessagePackError(offset: 0, reason: "string of 4294967295 bytes but only 1 bytes left"))
    }

    @Test func hugeBinaryLengthHeaderIsAnErrorNotAnAllocation() {
        #expect(decodingError([0xC6, 0xFF, 0xFF, 0xFF, 0xFF])?.reason == "binary of 4294967295 bytes but only 0 bytes left")
    }

    @Test func hugeExtensionLengthHeaderIsAnErrorNotAnAllocation() {
        #expect(decodingError([0xC9, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])?.reason == "extension of 4294967295 bytes but only 0 bytes left")
    }

    @Test func hugeArrayCountIsAnErrorNotAnAllocation() {
        #expect(
            decodingError([0xDD, 0xFF, 0xFF, 0xFF, 0xFF, 0xC0])
                == MessagePackError(offset: 0, reason: "array of 4294967295 elements but only 1 bytes left"))
    }

    @Test func hugeMapCountIsAnErrorNotAnAllocation() {
        #expect(decodingError([0xDF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC0, 0xC0])?.reason == "map of 4294967295 entries but only 2 bytes left")
    }

    @Test func nestingDeeperThan64IsAnError() {
        let bytes = [UInt8](repeating: 0x91, count: 65) + [0xC0]
        #expect(decodingError(bytes) == MessagePackError(offset: 64, reason: "nesting deeper than 64"))
    }

    @Test func nestingThroughMapsCountsToo() {
        // {"": {"": … }} 65 levels deep: each level is a fixmap header and an empty-string key.
        let bytes = Array([[UInt8]](repeating: [0x81, 0xA0], count: 65).joined()) + [0xC0]
        #expect(decodingError(bytes)?.reason == "nesting deeper than 64")
    }

    @Test func deepNestingOfAMillionLevelsIsAnErrorNotACrash() {
        let bytes = [UInt8](repeating: 0x91, count: 1_000_000) + [0xC0]
        #expect(decodingError(bytes)?.reason == "nesting deeper than 64")
    }

    @Test func maxDepthIsConfigurable() {
        #expect(decodingError([0x91, 0x91, 0xC0], maxDepth: 1)?.reason == "nesting deeper than 1")
        #expect(decodingError([0x91, 0xC0], maxDepth: 1) == nil)
        #expect(decodingError([0x01], maxDepth: 0) == nil)
    }

    @Test(arguments: [
        [UInt8(0xFF)], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80],
    ])
    func invalidUTF8InAStringIsAnError(contents: [UInt8]) {
        let bytes = [0x91, 0xA0 | UInt8(contents.count)] + contents
        #expect(decodingError(bytes) == MessagePackError(offset: 1, reason: "invalid UTF-8 in string"))
    }

    @Test func invalidUTF8InBinaryIsFine() throws {
        #expect(try decoded([0xC4, 0x01, 0xFF]) == .binary(ByteBuffer(bytes: [0xFF])))
    }

    @Test func trailingBytesAreAnError() {
        #expect(decodingError([0x01, 0x02, 0x03]) == MessagePackError(offset: 1, reason: "2 trailing bytes after the value"))
    }

    @Test func neverUsedByteIsAnError() {
        #expect(decodingError([0x92, 0x01, 0xC1]) == MessagePackError(offset: 2, reason: "byte 0xc1 is never used in MessagePack"))
    }

    @Test func errorDescriptionNamesTheReasonAndOffset() {
        #expect(MessagePackError(offset: 3, reason: "invalid UTF-8 in string").description == "invalid UTF-8 in string at byte 3")
    }

    @Test func readerErrorLeavesTheOffendingTokenUnread() throws {
        var reader = MessagePackReader(buffer: ByteBuffer(bytes: [0x01, 0xD9, 0x05]))
        #expect(try reader.readToken() == .int(1))
        #expect(throws: MessagePackError(offset: 1, reason: "string of 5 bytes but only 0 bytes left")) { try reader.readToken() }
        #expect(reader.offset == 1)
    }
}

private struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

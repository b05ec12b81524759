import SwitchboardYjs
import Testing

/// Hostile bytes get a typed error with its offset, never a trap, a huge allocation or unbounded recursion.
struct YjsBadInputTests {
    /// One client (7) typing "hi" at the start of root text "t": what Yjs writes for `text.insert(0, 'hi')`.
    static let typedHi: [UInt8] = [1, 1, 7, 0, 4, 1, 1, 0x74, 2, 0x68, 0x69, 0]

    private func decodingError(_ bytes: [UInt8]) -> YjsDecodingError? {
        do {
            _ = try YUpdate(decoding: bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test func aWellFormedUpdateDecodesToOneStringItemUnderARootType() throws {
        let update = try YUpdate(decoding: Self.typedHi)
        #expect(update.structs.count == 1)
        guard case .item(let item) = update.structs[0] else {
            Issue.record("not an item")
            return
        }
        #expect(item.id == YID(client: 7, clock: 0))
        #expect(item.parent == .root("t"))
        #expect(item.content == .string(utf8: Array("hi".utf8), utf16Count: 2))
        #expect(update.deleteSet.isEmpty)
        #expect(update.encoded() == Self.typedHi)
    }

    /// Cutting the update anywhere before its end is refused at every possible length: as `unexpectedEnd`, or as a
    /// count the bytes left cannot hold when the cut comes right after one.
    @Test func everyTruncationOfAnUpdateIsRefused() {
        for length in 0..<Self.typedHi.count {
            let code = decodingError(Array(Self.typedHi[..<length]))?.code
            #expect(code == .unexpectedEnd || code == .countExceedsInput, "length \(length)")
        }
        #expect(decodingError(Array(Self.typedHi[..<10])) == YjsDecodingError(.unexpectedEnd, at: 9))
    }

    @Test func aVarintCutInTheMiddleIsUnexpectedEnd() {
        var decoder = Lib0Decoder([0xFF, 0xFF])
        #expect(throws: YjsDecodingError(.unexpectedEnd, at: 2)) { try decoder.readVarUInt() }
    }

    @Test func aVarintAboveTwoToThe53MinusOneIsOutOfRange() throws {
        // 2^53 - 1 is the largest JavaScript integer peers read exactly: accepted.
        var largest = Lib0Decoder([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
        #expect(try largest.readVarUInt() == (1 << 53) - 1)
        var twoTo53 = Lib0Decoder([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10])
        #expect(throws: YjsDecodingError(.integerOutOfRange, at: 8)) { try twoTo53.readVarUInt() }
        // Endless continuation bytes stop at the eighth.
        var endless = Lib0Decoder([UInt8](repeating: 0x80, count: 100))
        #expect(throws: YjsDecodingError(.integerOutOfRange, at: 8)) { try endless.readVarUInt() }
    }

    /// A state vector claiming 2^53 - 1 clients in eight bytes is refused before anything is allocated.
    @Test func aStateVectorClaimingTwoToThe53ClientsIsRefused() {
        let claim: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 1, 1]
        #expect(throws: YjsDecodingError(.countExceedsInput, at: 8)) { try YStateVector(decoding: claim) }
        #expect(throws: YjsDecodingError.self) { try YjsUpdates.diff(Self.typedHi, against: claim) }
    }

    @Test func anUpdateClaimingMoreClientsThanItsBytesIsRefused() {
        #expect(decodingError([0xFF, 0xFF, 0x03, 1, 7, 0])?.code == .countExceedsInput)
    }

    @Test func aStringLengthPastTheEndIsUnexpectedEnd() {
        var update = Self.typedHi
        update[8] = 100  // the length of "hi"
        #expect(decodingError(update) == YjsDecodingError(.unexpectedEnd, at: 9))
    }

    @Test func invalidUTF8InTextIsRefused() {
        var update = Self.typedHi
        update[9] = 0xC3  // a lead byte, then "(" where a continuation byte must be
        update[10] = 0x28
        #expect(decodingError(update) == YjsDecodingError(.invalidUTF8, at: 8))
    }

    @Test func unknownContentAndTypeReferencesAreRefused() {
        var content = Self.typedHi
        content[4] = 0x0B  // content ref 11
        #expect(decodingError(content)?.code == .unknownContent)
        // A root type item ("t") whose content is a shared type with ref 9.
        #expect(decodingError([1, 1, 7, 0, 7, 1, 1, 0x74, 9, 0])?.code == .unknownTypeRef)
    }

    @Test func formattingWhoseValueIsNotJSONIsRefused() {
        // Format item under root "t": key "b", value "tru" (JSON.parse would throw in every peer).
        let update: [UInt8] = [1, 1, 7, 0, 6, 1, 1, 0x74, 1, 0x62, 3, 0x74, 0x72, 0x75, 0]
        #expect(decodingError(update)?.code == .invalidJSON)
        var valid = update
        valid.replaceSubrange(10..<14, with: [4, 0x74, 0x72, 0x75, 0x65])
        #expect(decodingError(valid) == nil)
    }

    @Test func anyValuesNestedTooDeeplyAreRefusedWithoutRecursingFurther() {
        // Array content under root "a": one `any` value that is 10,000 nested arrays.
        let nested = [UInt8](repeating: 117, count: 1) + [UInt8]([1, 117]).repeated(9_999) + [0]
        let update: [UInt8] = [1, 1, 7, 0, 8, 1, 1, 0x61, 1] + nested + [0]
        #expect(decodingError(update)?.code == .nestingTooDeep)
    }

    @Test func unknownAnyTypeBytesAreRefused() {
        let update: [UInt8] = [1, 1, 7, 0, 8, 1, 1, 0x61, 1, 100, 0]
        #expect(decodingError(update) == YjsDecodingError(.unknownAnyType, at: 9))
    }

    @Test func bytesAfterTheDeleteSetAreRefused() {
        #expect(decodingError(Self.typedHi + [0]) == YjsDecodingError(.trailingBytes, at: 12))
    }

    @Test func anEmptyStringItemIsRefused() {
        #expect(decodingError([1, 1, 7, 0, 4, 1, 1, 0x74, 0, 0])?.code == .emptyItem)
    }

    @Test func aClientListedTwiceIsRefused() {
        let twice: [UInt8] = [2, 1, 7, 0, 4, 1, 1, 0x74, 1, 0x68, 1, 7, 5, 4, 1, 1, 0x74, 1, 0x69, 0]
        #expect(decodingError(twice)?.code == .duplicateClient)
    }

    @Test func clocksPastTwoToThe53AreRefused() {
        // A deleted run of 2^53 - 1 clocks starting at clock 2.
        let update: [UInt8] = [1, 1, 7, 2, 1, 1, 1, 0x74, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0]
        #expect(decodingError(update)?.code == .clockOutOfRange)
    }

    /// Garbage from a fixed generator: every input either decodes or throws; none traps.
    @Test func randomGarbageNeverTraps() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<20_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let length = Int(state >> 59)
            var input: [UInt8] = []
            for _ in 0..<length {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                input.append(UInt8(truncatingIfNeeded: state >> 33))
            }
            _ = try? YUpdate(decoding: input)
            _ = try? YStateVector(decoding: input)
            _ = try? YjsUpdates.merge([input, Self.typedHi])
        }
    }

    /// A crafted update (found by the fuzzer) whose structs of one client are out of order: it decodes, but Yjs's merge
    /// algorithm — and so ours — writes that client in two sections, which no peer should get as a room's document.
    /// The merge is refused like structs that cannot be ordered, and the room keeps the updates unmerged.
    @Test func aMergeThatWouldWriteAClientTwiceIsRefused() throws {
        let crafted: [UInt8] = [
            0x02, 0x13, 0xc8, 0x00, 0x00, 0x21, 0x01, 0x03, 0x6d, 0x61, 0x70, 0x01, 0x63, 0x02, 0x21, 0x01, 0x03, 0x6d, 0x61, 0x70, 0x03, 0x64, 0x6f,
            0x63, 0x01, 0x00, 0x0a, 0x21, 0x01, 0x03, 0x6d, 0x61, 0x70, 0x01, 0x61, 0x01, 0xa1, 0xc8, 0x01, 0x01, 0x02, 0xa1, 0xc8, 0x01, 0x0d, 0x02,
            0xa1, 0xc8, 0x01, 0x0f, 0x01, 0xa1, 0xc8, 0x01, 0x02, 0x01, 0x00, 0x0a, 0xa1, 0xc8, 0x01, 0x13, 0x01, 0x00, 0x0a, 0x21, 0x01, 0x03, 0x6d,
            0x61, 0x70, 0x01, 0x64, 0x01, 0xa1, 0x64, 0x2e, 0x01, 0x87, 0xa1, 0xc8, 0x01, 0x1e, 0x01, 0x00, 0x0a, 0xa8, 0xc8, 0x01, 0x2a, 0x01, 0x7b,
            0x41, 0x2b, 0xf2, 0x56, 0xca, 0x9f, 0x23, 0xa1, 0x01, 0x6e, 0x68, 0xc8, 0x29, 0x01, 0xa7, 0xc8, 0x01, 0x2b, 0x02, 0x04, 0x00, 0xc8, 0x01,
            0x31, 0x0a, 0x69, 0x6e, 0x6e, 0x65, 0x72, 0x20, 0x74, 0x65, 0x78, 0x74, 0x0d, 0x64, 0x00, 0x21, 0x01, 0x03, 0x6d, 0x61, 0x70, 0x03, 0x64,
            0x6f, 0x62, 0x01, 0x00, 0x0a, 0x21, 0x01, 0x03, 0x6d, 0x61, 0x70, 0x01, 0x62, 0x01, 0xa1, 0x64, 0x00, 0x01, 0x00, 0x0a, 0x21, 0x01, 0x03,
            0x6d, 0x61, 0x70, 0x01, 0x64, 0x01, 0xa1, 0xc8, 0x01, 0x02, 0x01, 0x00, 0x0a, 0xa1, 0x00, 0x01, 0x01, 0x0a, 0xc8, 0x13, 0xa1, 0xc8, 0x01,
            0x11, 0x01, 0xa1, 0x64, 0x23, 0x01, 0x00, 0x0a, 0x02, 0x64, 0x01, 0x00, 0x3a, 0xc8, 0x01, 0x02, 0x00, 0x36, 0x37, 0x01,
        ]
        #expect(decodingError(crafted) == nil)
        #expect(throws: YjsDecodingError.self) { try YUpdate.merge(encoded: [crafted, crafted]) }
    }
}

extension Array {
    fileprivate func repeated(_ times: Int) -> [Element] {
        Array((0..<times).map { _ in self }.joined())
    }
}

import Testing

@testable import SwitchboardCore

private func parse(_ text: String) -> StreamPosition? {
    StreamPosition(parsing: text[...])
}

/// `EPOCH:OFFSET` parsing and the epoch and offset bounds.
struct StreamPositionTests {
    @Test func descriptionIsEpochColonOffset() {
        #expect(StreamPosition(epoch: "k3f9a", offset: 12).description == "k3f9a:12")
    }

    @Test func parsingReadsEpochAndOffset() {
        #expect(parse("k3f9a:12") == StreamPosition(epoch: "k3f9a", offset: 12))
    }

    @Test func offsetZeroParses() {
        #expect(parse("AbC123:0") == StreamPosition(epoch: "AbC123", offset: 0))
    }

    @Test func parsingRoundTripsTheDescription() {
        let position = StreamPosition(epoch: "Zz09", offset: 9_007_199_254_740_991)
        #expect(parse(position.description) == position)
    }

    @Test func parsingWorksOnASubstringOfALargerString() {
        let text = "xx,ep:5,yy"
        let start = text.index(text.startIndex, offsetBy: 3)
        let end = text.index(start, offsetBy: 4)
        #expect(StreamPosition(parsing: text[start..<end]) == StreamPosition(epoch: "ep", offset: 5))
    }

    @Test func theLargestOffsetIsTwoToTheFiftyThirdMinusOne() {
        #expect(StreamPosition.maxOffset == 9_007_199_254_740_991)
        #expect(parse("e:9007199254740991")?.offset == StreamPosition.maxOffset)
    }

    @Test func anOffsetOfTwoToTheFiftyThirdIsRefused() {
        #expect(parse("e:9007199254740992") == nil)
        #expect(parse("e:9999999999999999") == nil)
    }

    @Test func offsetsLongerThanSixteenDigitsAreRefusedEvenWithLeadingZeros() {
        #expect(parse("e:0000000000000001")?.offset == 1)
        #expect(parse("e:00000000000000001") == nil)
        #expect(parse("e:18446744073709551616") == nil)
    }

    @Test func aMissingColonIsRefused() {
        #expect(parse("abc12") == nil)
    }

    @Test func anEmptyOffsetIsRefused() {
        #expect(parse("abc:") == nil)
    }

    @Test func anEmptyEpochIsRefused() {
        #expect(parse(":12") == nil)
    }

    @Test func offsetsWithSignsSpacesOrFractionsAreRefused() {
        for bad in ["e:-1", "e:+1", "e: 1", "e:1 ", "e:1.0", "e:1e3", "e:0x1", "e:١"] {
            #expect(parse(bad) == nil, "\(bad) should be refused")
        }
    }

    @Test func epochsAreOneToSixteenASCIILettersOrDigits() {
        #expect(StreamPosition.isValidEpoch("a"))
        #expect(StreamPosition.isValidEpoch("0123456789abcdef"))
        #expect(StreamPosition.isValidEpoch("ABCxyz019"))
        #expect(!StreamPosition.isValidEpoch(""))
        #expect(!StreamPosition.isValidEpoch("0123456789abcdefg"))
    }

    @Test func epochsWithPunctuationOrNonASCIIAreRefused() {
        for bad in ["a-b", "a_b", "a.b", "a b", "a:b", "é", "a,b"] {
            #expect(!StreamPosition.isValidEpoch(bad[...]), "\(bad) should be refused")
        }
    }

    @Test func anEpochContainingAColonDoesNotParse() {
        #expect(parse("a:b:1") == nil)
    }

    @Test func aSeventeenCharacterEpochDoesNotParse() {
        #expect(parse("0123456789abcdef:1") != nil)
        #expect(parse("0123456789abcdefg:1") == nil)
    }
}

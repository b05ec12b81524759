import Testing

@testable import SwitchboardCore

private func valid(_ bytes: [UInt8]) -> Bool { UTF8Validation.isValid(bytes) }

/// Strict UTF-8 validation (RFC 3629) for WebSocket text frames and close reasons.
struct UTF8ValidationTests {
    @Test func emptyInputIsValid() {
        #expect(valid([]))
    }

    @Test func asciiIsValid() {
        #expect(valid(Array("hello, world {\"a\":1}\u{0}\u{7F}".utf8)))
    }

    @Test func multiByteCharactersOfEveryLengthAreValid() {
        #expect(valid(Array("é".utf8)))  // 2 bytes
        #expect(valid(Array("€".utf8)))  // 3 bytes
        #expect(valid(Array("😀".utf8)))  // 4 bytes
        #expect(valid(Array("κόσμε – 日本語 🎉".utf8)))
    }

    @Test func theBoundariesOfEachSequenceLengthAreValid() {
        #expect(valid([0xC2, 0x80]))  // U+0080
        #expect(valid([0xDF, 0xBF]))  // U+07FF
        #expect(valid([0xE0, 0xA0, 0x80]))  // U+0800
        #expect(valid([0xED, 0x9F, 0xBF]))  // U+D7FF
        #expect(valid([0xEE, 0x80, 0x80]))  // U+E000
        #expect(valid([0xEF, 0xBF, 0xBF]))  // U+FFFF
        #expect(valid([0xF0, 0x90, 0x80, 0x80]))  // U+10000
        #expect(valid([0xF4, 0x8F, 0xBF, 0xBF]))  // U+10FFFF
    }

    @Test func aLoneContinuationByteIsInvalid() {
        #expect(!valid([0x80]))
        #expect(!valid([0x61, 0xBF, 0x61]))
    }

    @Test func overlongEncodingsAreInvalid() {
        #expect(!valid([0xC0, 0xAF]))  // "/" in two bytes
        #expect(!valid([0xC1, 0xBF]))
        #expect(!valid([0xE0, 0x80, 0xAF]))  // "/" in three bytes
        #expect(!valid([0xE0, 0x9F, 0xBF]))  // U+07FF in three bytes
        #expect(!valid([0xF0, 0x80, 0x80, 0xAF]))  // "/" in four bytes
        #expect(!valid([0xF0, 0x8F, 0xBF, 0xBF]))  // U+FFFF in four bytes
    }

    @Test func surrogatesAreInvalid() {
        #expect(!valid([0xED, 0xA0, 0x80]))  // U+D800
        #expect(!valid([0xED, 0xBF, 0xBF]))  // U+DFFF
        #expect(!valid([0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80]))  // CESU-8 pair
    }

    @Test func codePointsAboveU10FFFFAreInvalid() {
        #expect(!valid([0xF4, 0x90, 0x80, 0x80]))  // U+110000
        #expect(!valid([0xF5, 0x80, 0x80, 0x80]))
        #expect(!valid([0xF7, 0xBF, 0xBF, 0xBF]))
    }

    @Test func bytesThatNeverAppearInUTF8AreInvalid() {
        for byte: UInt8 in [0xC0, 0xC1, 0xF5, 0xF8, 0xFC, 0xFE, 0xFF] {
            #expect(!valid([byte]), "\(byte)")
            #expect(!valid([byte, 0x80, 0x80, 0x80]), "\(byte)")
        }
    }

    @Test func truncatedSequencesAreInvalid() {
        #expect(!valid([0xC3]))
        #expect(!valid([0xE2, 0x82]))
        #expect(!valid([0xF0, 0x9F, 0x98]))
        #expect(!valid(Array("ok".utf8) + [0xF0, 0x9F]))
    }

    @Test func aSequenceInterruptedByASCIIIsInvalid() {
        #expect(!valid([0xC3, 0x41]))
        #expect(!valid([0xE2, 0x82, 0x41]))
        #expect(!valid([0xF0, 0x9F, 0x41, 0x80]))
    }

    @Test func laterContinuationBytesMustBeContinuations() {
        #expect(!valid([0xE2, 0x82, 0xC0]))
        #expect(!valid([0xF0, 0x9F, 0x98, 0x20]))
    }

    @Test func noncharactersAreValid() {
        #expect(valid([0xEF, 0xBF, 0xBE]))  // U+FFFE
        #expect(valid([0xEF, 0xB7, 0x90]))  // U+FDD0
    }

    @Test func validationWorksOnAnyByteCollection() {
        let bytes: [UInt8] = [0x78, 0xC3, 0xA9, 0x78]
        #expect(UTF8Validation.isValid(bytes[1...2]))
        #expect(!UTF8Validation.isValid(bytes[1...1]))
        #expect(UTF8Validation.isValid("naïve".utf8))
    }

    @Test func everyValidScalarBoundaryAgreesWithSwiftsEncoder() {
        let scalars: [UInt32] = [0, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x10FFFF]
        for value in scalars {
            let scalar = Unicode.Scalar(value)!
            #expect(valid(Array(String(Character(scalar)).utf8)), "U+\(String(value, radix: 16))")
        }
    }
}

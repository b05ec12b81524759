import Testing

@testable import SwitchboardCore

/// Which permessage-deflate offers the server accepts, and what it answers (RFC 7692 section 7.1).
struct PerMessageDeflateNegotiationTests {
    @Test func aBareOfferIsAcceptedWithServerNoContextTakeover() {
        let agreement = PerMessageDeflateNegotiation.negotiate(offers: ["permessage-deflate"])
        #expect(agreement == PerMessageDeflateAgreement())
        #expect(agreement?.responseHeaderValue == "permessage-deflate; server_no_context_takeover")
        #expect(agreement?.compressorWindowBits == 15)
    }

    @Test func noOfferMeansNoCompression() {
        #expect(PerMessageDeflateNegotiation.negotiate(offers: []) == nil)
        #expect(PerMessageDeflateNegotiation.negotiate(offers: ["x-webkit-deflate-frame"]) == nil)
    }

    @Test func clientNoContextTakeoverIsAgreed() {
        let agreement = PerMessageDeflateNegotiation.negotiate(offers: ["permessage-deflate; client_no_context_takeover"])
        #expect(agreement?.clientNoContextTakeover == true)
        #expect(agreement?.responseHeaderValue == "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    }

    @Test func serverMaxWindowBitsIsEchoedAndLimitsTheCompressor() {
        let agreement = PerMessageDeflateNegotiation.negotiate(offers: ["permessage-deflate; server_max_window_bits=10"])
        #expect(agreement?.serverMaxWindowBits == 10)
        #expect(agreement?.compressorWindowBits == 10)
        #expect(agreement?.responseHeaderValue == "permessage-deflate; server_no_context_takeover; server_max_window_bits=10")
    }

    /// zlib has no raw 8-bit window; 9 bits never reaches back more than 250 bytes, so the answer can still say 8.
    @Test func aRequestForAnEightBitWindowIsAnsweredWithEightAndCompressedWithNine() {
        let agreement = PerMessageDeflateNegotiation.negotiate(offers: ["permessage-deflate; server_max_window_bits=8"])
        #expect(agreement?.serverMaxWindowBits == 8)
        #expect(agreement?.compressorWindowBits == 9)
    }

    @Test func clientMaxWindowBitsWithOrWithoutAValueIsAccepted() {
        #expect(PerMessageDeflateNegotiation.negotiate(offers: ["permessage-deflate; client_max_window_bits"]) != nil)
        #expect(PerMessageDeflateNegotiation.negotiate(offers: ["permessage-deflate; client_max_window_bits=12"]) != nil)
        #expect(PerMessageDeflateNegotiation.negotiate(offers: [#"permessage-deflate; client_max_window_bits="12""#]) != nil)
    }

    @Test(arguments: [
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits=1a",
        "permessage-deflate; client_max_window_bits=99",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=yes",
        "permessage-deflate; unknown_parameter",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=11",
    ])
    func invalidOffersAreDeclined(offer: String) {
        #expect(PerMessageDeflateNegotiation.negotiate(offers: [offer]) == nil)
    }

    @Test func anInvalidOfferFallsBackToTheNextOne() {
        let agreement = PerMessageDeflateNegotiation.negotiate(offers: [
            "permessage-deflate; server_max_window_bits=7, permessage-deflate; client_no_context_takeover", "permessage-deflate",
        ])
        #expect(agreement?.clientNoContextTakeover == true)
    }

    @Test func offersSpreadOverSeveralHeadersAreReadInOrder() {
        let agreement = PerMessageDeflateNegotiation.negotiate(offers: ["foo; bar=1", "permessage-deflate; server_max_window_bits=12"])
        #expect(agreement?.serverMaxWindowBits == 12)
    }

    @Test func aMalformedHeaderDeclinesRatherThanFails() {
        #expect(PerMessageDeflateNegotiation.negotiate(offers: ["permessage-deflate; =", ""]) == nil)
        #expect(PerMessageDeflateNegotiation.negotiate(offers: [#"permessage-deflate; server_max_window_bits="10"#]) == nil)
    }

    @Test func theResponseReadsBackToTheSameAgreement() {
        let agreement = PerMessageDeflateAgreement(clientNoContextTakeover: true, serverMaxWindowBits: 9)
        #expect(PerMessageDeflateNegotiation.agreement(fromResponse: agreement.responseHeaderValue) == agreement)
    }
}

/// UTF-8 fed in pieces, as text fragments arrive.
struct UTF8StreamValidatorTests {
    @Test func aCodePointSplitAcrossPiecesIsValid() {
        let bytes = Array("κόσμε 😀".utf8)
        for cut in 0...bytes.count {
            var validator = UTF8StreamValidator()
            let first = validator.feed(bytes[..<cut])
            let second = validator.feed(bytes[cut...])
            #expect(first && second && validator.isComplete, "cut at \(cut)")
        }
    }

    @Test func anUnfinishedCodePointIsIncomplete() {
        var validator = UTF8StreamValidator()
        let accepted = validator.feed([0xF0, 0x9F])
        #expect(accepted && !validator.isComplete)
    }

    /// Fail fast: the first impossible byte is refused, whatever follows.
    @Test(arguments: [[0xC0, 0x80], [0xED, 0xA0], [0xF4, 0x90], [0xE0, 0x80], [0xFF], [0x80]] as [[UInt8]])
    func impossibleBytesFailAtOnce(bytes: [UInt8]) {
        var validator = UTF8StreamValidator()
        let accepted = validator.feed(bytes)
        #expect(!accepted)
    }

    @Test func agreesWithTheWholeMessageValidatorOnRandomInput() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let bytes = (0..<Int.random(in: 0...12, using: &generator)).map { _ in
                [UInt8(0x41), 0x80, 0xBF, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0x9F, 0xA0, 0x90][Int.random(in: 0...10, using: &generator)]
            }
            var validator = UTF8StreamValidator()
            let streamed = validator.feed(bytes) && validator.isComplete
            #expect(streamed == UTF8Validation.isValid(bytes), "\(bytes)")
        }
    }
}

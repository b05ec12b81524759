import NIOCore
import SwitchboardCore
import Testing

@Suite struct TokenHeaderTests {
    private func encoded(_ json: String) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var out = ""
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in json.utf8 {
            accumulator = (accumulator << 8) | UInt32(byte)
            bits += 8
            while bits >= 6 {
                bits -= 6
                out.append(alphabet[Int((accumulator >> UInt32(bits)) & 63)])
            }
        }
        if bits > 0 { out.append(alphabet[Int((accumulator << UInt32(6 - bits)) & 63)]) }
        return out
    }

    @Test func algAndKidAreRead() throws {
        let header = try TokenHeader.parse(token: encoded(#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#) + ".e30.sig")
        #expect(header == TokenHeader(algorithm: "ES256", keyID: "k1"))
    }

    @Test(arguments: [
        #"{"typ":"JWT"}"#, #"{"alg":""}"#, #"{"alg":7}"#, #"{"alg":"HS256","alg":"none"}"#, #"["HS256"]"#,
        #"{"alg":"HS256","crit":["b64"]}"#, #"{"alg":"HS256","kid":1}"#,
    ])
    func headersWithoutOneUsableAlgAreRefused(json: String) {
        #expect(throws: TokenHeader.Refusal.self) { try TokenHeader.parse(token: encoded(json) + ".e30.sig") }
    }

    @Test(arguments: ["no-dot-at-all", "!!!.e30.x", "eyJhbGciOiJIUzI1NiJ9=.e30.x", "A.e30.x", String(repeating: "A", count: 2000) + ".e30.x"])
    func malformedTokensAreRefused(token: String) {
        #expect(throws: TokenHeader.Refusal.self) { try TokenHeader.parse(token: token) }
    }

    @Test func base64URLRoundTripsEveryLength() {
        for length in 0..<20 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let text = encoded(String(decoding: bytes, as: UTF8.self))
            // Only valid UTF-8 survives the String round trip above; compare against what was encoded.
            let expected = Array(String(decoding: bytes, as: UTF8.self).utf8)
            #expect(Base64URL.decode(Array(text.utf8)) == expected)
        }
        #expect(Base64URL.decode(Array("QR".utf8)) == nil)  // non-zero leftover bits: not canonical
    }
}

@Suite struct WebRootPathTests {
    @Test(arguments: ["/data.json\u{0}.html", "/a\nb", "/tab\there", "/del\u{7F}"])
    func controlCharactersMakeAPathMalformed(path: String) {
        #expect(WebRootPath.check(path) == .malformed(reason: "request path contains a control character"))
    }

    @Test(arguments: ["/.env", "/a/.git/config", "/..", "/x/../y"])
    func dotSegmentsAreHidden(path: String) {
        #expect(WebRootPath.check(path) == .hidden)
    }

    @Test(arguments: ["/", "/index.html", "/a/b.c/d", "/.well-known/security.txt", "/a..b"])
    func ordinaryPathsAreServable(path: String) {
        #expect(WebRootPath.check(path) == .servable)
    }
}

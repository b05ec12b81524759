import SwitchboardCore
import Testing

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined()
}

struct SHA1Tests {
    @Test(arguments: [
        ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        ("The quick brown fox jumps over the lazy dog", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"),
    ])
    func matchesTheStandardTestVectors(message: String, digest: String) {
        #expect(hex(SHA1.hash(message.utf8)) == digest)
    }

    @Test func hashesOneMillionLetters() {
        #expect(hex(SHA1.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    /// Lengths on either side of where the padding needs a second block, and of a whole block.
    @Test(arguments: [
        (55, "cef734ba81a024479e09eb5a75b6ddae62e6abf1"),
        (56, "901305367c259952f4e7af8323f480d59f81335b"),
        (63, "0ddc4e0cccd9a12850deb5abb0853a4425559fec"),
        (64, "bb2fa3ee7afb9f54c6dfb5d021f14b1ffe40c163"),
        (65, "78c741ddc482e4cdf8c474a0876347a0905b6233"),
        (119, "4300320394f7ee239bcdce7d3b8bcee173a0cd5c"),
        (120, "ceb2821639c4b6dcb10bce0e522ca2e608ce056d"),
    ])
    func padsCorrectlyAroundBlockBoundaries(length: Int, digest: String) {
        #expect(hex(SHA1.hash([UInt8](repeating: UInt8(ascii: "x"), count: length))) == digest)
    }

    @Test func hashesSequencesWithoutContiguousStorage() {
        let bytes = AnySequence("abc".utf8)
        #expect(hex(SHA1.hash(bytes)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
    }
}

struct WebSocketAcceptTests {
    @Test func answersTheRFC6455Example() {
        #expect(WebSocketAccept.value(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test(arguments: ["dGhlIHNhbXBsZSBub25jZQ==", "AAAAAAAAAAAAAAAAAAAAAA==", "/+/+/+/+/+/+/+/+/+/+/w==", "x3JJHMbDL1EzLkh9GBhXDw=="])
    func acceptsBase64OfSixteenBytes(key: String) {
        #expect(WebSocketAccept.isValidKey(key))
    }

    @Test(arguments: [
        "",
        "dGhlIHNhbXBsZSBub25jZQ=",  // 23 characters
        "dGhlIHNhbXBsZSBub25jZQ===",  // 25 characters
        "dGhlIHNhbXBsZSBub25jZQAA",  // no padding: 18 bytes
        "dGhlIHNhbXBsZSBub25jZ===",  // 15 bytes plus extra padding
        "dGhlIHNhbXBsZSBub25jZR==",  // non-zero padding bits
        "dGhlIHNhbXBsZSBub2 jZQ==",  // space
        "dGhlIHNhbXBsZSBub2-jZQ==",  // URL-safe alphabet
        " dGhlIHNhbXBsZSBub25jZQ==",
        "dGhlIHNhbXBsZSBub25jZQ==\r",
        "dGhlIHNhbXBsZSBub25jZ\u{E9}==",
    ])
    func refusesAnythingElse(key: String) {
        #expect(!WebSocketAccept.isValidKey(key))
    }
}

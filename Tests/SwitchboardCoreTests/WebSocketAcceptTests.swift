import SwitchboardCore
import Testing

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

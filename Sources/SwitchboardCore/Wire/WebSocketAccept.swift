internal import Crypto
internal import Foundation

/// The RFC 6455 §4.2.2 handshake proof a server returns in `Sec-WebSocket-Accept`.
public enum WebSocketAccept {
    /// Fixed by RFC 6455 so that only a WebSocket-aware server can produce the answer.
    private static let magic = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// base64(SHA1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")); `key` is used exactly as received.
    ///
    /// SHA-1 is broken for security uses; RFC 6455 uses it only to prove the server read the handshake.
    public static func value(forKey key: String) -> String {
        Data(Insecure.SHA1.hash(data: Array((key + magic).utf8))).base64EncodedString()
    }

    /// True if `key` is a valid Sec-WebSocket-Key: canonical base64 of exactly 16 bytes (24 characters ending in "==").
    ///
    /// The 22nd character carries 2 data bits and 4 padding bits, so canonical encoders only ever put A, Q, g or w there.
    /// Surrounding whitespace is not trimmed here; header parsing does that.
    public static func isValidKey(_ key: String) -> Bool {
        var count = 0
        for byte in key.utf8 {
            switch count {
            case 0..<21:
                guard isBase64Digit(byte) else { return false }
            case 21:
                guard byte == UInt8(ascii: "A") || byte == UInt8(ascii: "Q") || byte == UInt8(ascii: "g") || byte == UInt8(ascii: "w")
                else { return false }
            case 22, 23:
                guard byte == UInt8(ascii: "=") else { return false }
            default:
                return false
            }
            count += 1
        }
        return count == 24
    }

    private static func isBase64Digit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "+"), UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }
}

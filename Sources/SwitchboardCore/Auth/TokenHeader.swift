import NIOCore

/// The JOSE header of a compact JWT (`alg` and `kid`), read before any signature check.
///
/// The verifier picks keys by the header's `alg` and refuses any algorithm that no configured key was configured for
/// (RFC 8725 §3.1: the algorithm must be checked against the key, never taken from the token): without that, a token
/// labelled `none` or `HS512` whose signature still verifies with an HS256 secret would pass.
public struct TokenHeader: Sendable, Equatable {
    public var algorithm: String
    public var keyID: String?

    public init(algorithm: String, keyID: String? = nil) {
        self.algorithm = algorithm
        self.keyID = keyID
    }

    /// Why a token's header was refused; `reason` is safe to show to clients.
    public struct Refusal: Error, Equatable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
        public init(reason: String) { self.reason = reason }
    }

    /// Longest header accepted, in base64url characters: real headers are well under 200.
    public static let maxEncodedLength = 1024

    /// Parses the first segment of a compact JWT (`header.payload.signature`).
    public static func parse(token: some StringProtocol) throws(Refusal) -> TokenHeader {
        let utf8 = Array(token.utf8.prefix(maxEncodedLength + 1))
        guard let dot = utf8.firstIndex(of: UInt8(ascii: ".")) else { throw Refusal(reason: "token is not a compact JWT") }
        guard dot <= maxEncodedLength else { throw Refusal(reason: "token header is too long") }
        guard let json = Base64URL.decode(utf8[..<dot]) else { throw Refusal(reason: "token header is not base64url") }
        let members: [JSONMember]
        do {
            members = try JSONScanner.objectMembers(ByteBuffer(bytes: json), maxDepth: 4)
        } catch {
            throw Refusal(reason: "token header is not a JSON object")
        }
        var algorithm: String?
        var keyID: String?
        for member in members {
            switch member.key {
            case "alg":
                guard algorithm == nil, let value = JSONScanner.decodeString(member.value) else {
                    throw Refusal(reason: "token header alg must be one string")
                }
                algorithm = value
            case "kid":
                guard keyID == nil, let value = JSONScanner.decodeString(member.value) else {
                    throw Refusal(reason: "token header kid must be one string")
                }
                keyID = value
            case "crit":
                // RFC 7515 §4.1.11: extensions we do not understand must make the token invalid.
                throw Refusal(reason: "token header has critical extensions")
            default:
                continue
            }
        }
        guard let algorithm, !algorithm.isEmpty else { throw Refusal(reason: "token header has no alg") }
        return TokenHeader(algorithm: algorithm, keyID: keyID)
    }
}

/// RFC 4648 §5 base64url without padding, as JWTs use it.
public enum Base64URL {
    /// Decodes unpadded base64url; nil for any other character, a trailing `=`, or an impossible length.
    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        guard text.count % 4 != 1 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(text.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for character in text {
            guard let value = sextet(character) else { return nil }
            accumulator = (accumulator << 6) | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        // Leftover bits must be zero, so each byte string has one encoding.
        guard accumulator & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return output
    }

    private static func sextet(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"): return 62
        case UInt8(ascii: "_"): return 63
        default: return nil
        }
    }
}

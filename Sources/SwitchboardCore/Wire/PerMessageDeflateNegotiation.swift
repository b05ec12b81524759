/// The permessage-deflate parameters both sides agreed on (RFC 7692).
public struct PerMessageDeflateAgreement: Sendable, Equatable {
    /// The server resets its compressor after every message. Switchboard always asks for this: without it every
    /// connection would keep its own ~256 KB of zlib state, and one compressed frame could not be shared by all
    /// the connections that receive the same publication.
    public var serverNoContextTakeover = true
    /// The client promised to reset its compressor per message; then the server needs no inflater per connection.
    public var clientNoContextTakeover = false
    /// The window the server must stay within, as the client asked (8…15); nil means 15.
    public var serverMaxWindowBits: Int?
    /// The window the client's compressor uses at most, if the response names it (8…15).
    public var clientMaxWindowBits: Int?

    public init(
        serverNoContextTakeover: Bool = true, clientNoContextTakeover: Bool = false, serverMaxWindowBits: Int? = nil,
        clientMaxWindowBits: Int? = nil
    ) {
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
    }

    /// The window bits to give zlib for the server's compressor.
    ///
    /// zlib cannot make a raw deflate stream with an 8-bit window, so 8 becomes 9. That still honours a limit of 8:
    /// zlib never emits a match distance above `window - 262` bytes, 250 for 9 bits, which fits a 256-byte window.
    public var compressorWindowBits: Int { max(9, serverMaxWindowBits ?? 15) }

    /// The `Sec-WebSocket-Extensions` value of the 101 response.
    public var responseHeaderValue: String {
        var value = PerMessageDeflateNegotiation.extensionName
        if serverNoContextTakeover { value += "; server_no_context_takeover" }
        if clientNoContextTakeover { value += "; client_no_context_takeover" }
        if let bits = serverMaxWindowBits { value += "; server_max_window_bits=\(bits)" }
        if let bits = clientMaxWindowBits { value += "; client_max_window_bits=\(bits)" }
        return value
    }
}

/// Picks the first acceptable permessage-deflate offer of a handshake (RFC 7692 section 7.1). Pure: header values in,
/// agreement out, so every rule is tested without a socket.
public enum PerMessageDeflateNegotiation {
    public static let extensionName = "permessage-deflate"

    /// One extension of a `Sec-WebSocket-Extensions` list: its name and its parameters in order (values unquoted).
    public struct Extension: Sendable, Equatable {
        public var name: String
        public var parameters: [(name: String, value: String?)]

        public static func == (lhs: Extension, rhs: Extension) -> Bool {
            lhs.name == rhs.name && lhs.parameters.elementsEqual(rhs.parameters) { $0.name == $1.name && $0.value == $1.value }
        }
    }

    /// The agreement for the first valid permessage-deflate offer in `headerValues` (every `Sec-WebSocket-Extensions`
    /// header of the request, in order); nil when there is none, and the connection goes uncompressed.
    ///
    /// Invalid offers (unknown or repeated parameters, bad values) are declined one by one, as section 7.1 asks, and the
    /// next offer is tried; a malformed header declines everything rather than failing the handshake.
    public static func negotiate(offers headerValues: [String]) -> PerMessageDeflateAgreement? {
        guard let extensions = parse(headerValues) else { return nil }
        for offer in extensions where offer.name.lowercased() == extensionName {
            if let agreement = accept(offer) { return agreement }
        }
        return nil
    }

    /// Reads back an agreement from the server's own response value (the 101 headers carry it to the connection).
    public static func agreement(fromResponse headerValue: String) -> PerMessageDeflateAgreement? {
        guard let extensions = parse([headerValue]), let response = extensions.first, response.name == extensionName else { return nil }
        var agreement = PerMessageDeflateAgreement(serverNoContextTakeover: false)
        for (name, value) in response.parameters {
            switch name {
            case "server_no_context_takeover": agreement.serverNoContextTakeover = true
            case "client_no_context_takeover": agreement.clientNoContextTakeover = true
            case "server_max_window_bits": agreement.serverMaxWindowBits = value.flatMap(windowBits)
            case "client_max_window_bits": agreement.clientMaxWindowBits = value.flatMap(windowBits)
            default: return nil
            }
        }
        return agreement
    }

    private static func accept(_ offer: Extension) -> PerMessageDeflateAgreement? {
        var agreement = PerMessageDeflateAgreement()
        var seen = Set<String>()
        for (rawName, value) in offer.parameters {
            let name = rawName.lowercased()
            guard seen.insert(name).inserted else { return nil }
            switch name {
            case "server_no_context_takeover":
                guard value == nil else { return nil }
            case "client_no_context_takeover":
                guard value == nil else { return nil }
                agreement.clientNoContextTakeover = true
            case "server_max_window_bits":
                guard let bits = value.flatMap(windowBits) else { return nil }
                agreement.serverMaxWindowBits = bits
            case "client_max_window_bits":
                // Without a value it only says the client could take a limit. Either way the server inflates with a
                // 15-bit window, which reads any smaller one, so the response does not limit the client.
                if let value, windowBits(value) == nil { return nil }
            default:
                return nil
            }
        }
        return agreement
    }

    /// 1*DIGIT from 8 to 15, without leading zeros (RFC 7692 section 7.1.2).
    private static func windowBits(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }), !text.hasPrefix("0"),
            let bits = Int(text), (8...15).contains(bits)
        else { return nil }
        return bits
    }

    /// Parses `ext *( ";" param [ "=" (token | quoted-string) ] )` lists separated by commas (RFC 6455 section 9.1).
    /// Nil when any part is malformed.
    public static func parse(_ headerValues: [String]) -> [Extension]? {
        var result: [Extension] = []
        for headerValue in headerValues {
            var scanner = Scanner(Array(headerValue.utf8))
            scanner.skipSpaces()
            if scanner.atEnd { continue }
            while true {
                scanner.skipSpaces()
                guard let name = scanner.token() else { return nil }
                var parameters: [(name: String, value: String?)] = []
                scanner.skipSpaces()
                while scanner.consume(UInt8(ascii: ";")) {
                    scanner.skipSpaces()
                    guard let parameter = scanner.token() else { return nil }
                    scanner.skipSpaces()
                    var value: String?
                    if scanner.consume(UInt8(ascii: "=")) {
                        scanner.skipSpaces()
                        guard let parsed = scanner.quotedString() ?? scanner.token() else { return nil }
                        value = parsed
                        scanner.skipSpaces()
                    }
                    parameters.append((parameter, value))
                }
                result.append(Extension(name: name, parameters: parameters))
                if scanner.atEnd { break }
                guard scanner.consume(UInt8(ascii: ",")) else { return nil }
            }
        }
        return result
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index == bytes.count }

        mutating func skipSpaces() {
            while index < bytes.count, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") { index += 1 }
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// An RFC 7230 token: visible ASCII except separators.
        mutating func token() -> String? {
            let start = index
            while index < bytes.count, Self.isTokenByte(bytes[index]) { index += 1 }
            guard index > start else { return nil }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        /// A quoted-string with backslash escapes; the value must still be a token (RFC 7692 section 7.1).
        mutating func quotedString() -> String? {
            guard consume(UInt8(ascii: "\"")) else { return nil }
            var value: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\"") {
                    guard !value.isEmpty, value.allSatisfy(Self.isTokenByte) else { return nil }
                    return String(decoding: value, as: UTF8.self)
                }
                if byte == UInt8(ascii: "\\") {
                    guard index < bytes.count else { return nil }
                    value.append(bytes[index])
                    index += 1
                } else {
                    value.append(byte)
                }
            }
            return nil
        }

        static func isTokenByte(_ byte: UInt8) -> Bool {
            guard byte > 0x20, byte < 0x7F else { return false }
            return !"()<>@,;:\\\"/[]?={}".utf8.contains(byte)
        }
    }
}

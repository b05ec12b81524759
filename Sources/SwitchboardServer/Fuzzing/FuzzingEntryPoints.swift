public import Foundation
public import NIOCore
public import SwitchboardCore

/// Internal parsers reached by the fuzz targets (Sources/SwitchboardFuzzTargets), through SPI so that they stay out
/// of the module's public API: `@_spi(Fuzzing) import SwitchboardServer`.
@_spi(Fuzzing) public enum FuzzingEntryPoints {
    /// A request target split as the stream routes split it: the raw path and the percent-decoded query items.
    public static func splitRequestTarget(_ target: String) -> (path: Substring, query: [(name: String, value: String)]) {
        let (path, query) = URLParts.split(target)
        return (path, query.map { ($0.name, $0.value) })
    }

    /// Decodes `%XX` escapes as the routes do; nil for malformed escapes or bytes that are not UTF-8.
    public static func percentDecode(_ text: Substring) -> String? {
        URLParts.percentDecode(text)
    }

    /// A token's payload JSON decoded into claims as jwt-kit decodes it once the signature checked out.
    public static func tokenClaims(payloadJSON: Data) throws -> TokenClaims {
        try JSONDecoder().decode(TokenPayload.self, from: payloadJSON).claims
    }

    /// Inflates compressed message payloads in order with one inflater, as a connection does, capped at `limit`.
    public static func inflate(messages: [ByteBuffer], keepsContext: Bool, limit: Int) -> [Result<ByteBuffer, any Error>] {
        guard let inflater = try? MessageInflater(keepsContext: keepsContext) else { return [] }
        return messages.map { message in
            Result { () throws(PerMessageDeflate.InflateError) -> ByteBuffer in
                try inflater.inflate(message, limit: limit, allocator: ByteBufferAllocator())
            }.mapError { $0 as any Error }
        }
    }
}

/// A validated channel name: `namespace:rest` or just `rest`.
///
/// Grammar (documented in docs/protocol.md):
/// - at most ``maxLength`` bytes in total;
/// - an optional namespace `[a-z0-9][a-z0-9_-]{0,31}` followed by `:`;
/// - then one or more of `A-Z a-z 0-9 _ - . : @ =`.
/// `/`, `?`, `#`, `%`, spaces and non-ASCII are refused so a name can stand unescaped in a URL path
/// (`/raw/ws/{channel}`) and in a query string.
public struct ChannelName: Hashable, Sendable, CustomStringConvertible {
    public static let maxLength = 255
    public static let maxNamespaceLength = 32

    public let rawValue: String
    /// The namespace part, without the colon; nil when the name has no namespace.
    public let namespace: Substring?

    public init(validating raw: String) throws(ChannelNameError) {
        let bytes = Array(raw.utf8)
        guard !bytes.isEmpty else { throw ChannelNameError("channel name is empty") }
        guard bytes.count <= Self.maxLength else {
            throw ChannelNameError("channel name is longer than \(Self.maxLength) bytes")
        }
        var restStart = 0
        if let colon = bytes.firstIndex(of: UInt8(ascii: ":")) {
            let candidate = bytes[..<colon]
            guard Self.isValidNamespace(candidate) else {
                throw ChannelNameError(
                    "namespace before ':' must match [a-z0-9][a-z0-9_-]{0,31}"
                )
            }
            restStart = colon + 1
        }
        guard restStart < bytes.count else { throw ChannelNameError("channel name is empty after the namespace") }
        for byte in bytes[restStart...] where !Self.isNameByte(byte) {
            throw ChannelNameError("channel name may only contain A-Z a-z 0-9 _ - . : @ =")
        }
        self.rawValue = raw
        if restStart > 0 {
            let colonIndex = raw.utf8.index(raw.startIndex, offsetBy: restStart - 1)
            self.namespace = raw[raw.startIndex..<colonIndex]
        } else {
            self.namespace = nil
        }
    }

    public var description: String { rawValue }

    static func isValidNamespace(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard let first = bytes.first, bytes.count <= maxNamespaceLength else { return false }
        guard isLowerAlnum(first) else { return false }
        return bytes.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    private static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "="):
            return true
        default:
            return false
        }
    }
}

/// Why a channel name was refused.
public struct ChannelNameError: Error, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

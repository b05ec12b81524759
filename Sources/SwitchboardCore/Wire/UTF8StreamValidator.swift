/// Strict UTF-8 validation fed in pieces: a WebSocket text message arrives in frames, and a code point may straddle
/// two of them.
///
/// Why incremental: RFC 6455 section 8.1 lets an endpoint fail the connection as soon as it sees bytes that can never
/// become valid UTF-8, so a bad first fragment is refused before the rest of a large message is read (Autobahn 6.4.*).
/// RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF. ``UTF8Validation`` is the one-shot form.
public struct UTF8StreamValidator: Sendable {
    /// Continuation bytes still expected for the current code point.
    private var pending = 0
    /// Allowed range of the next continuation byte (narrower than 0x80…0xBF right after E0, ED, F0 and F4).
    private var lowerBound: UInt8 = 0x80
    private var upperBound: UInt8 = 0xBF

    public init() {}

    /// Feeds the next bytes; false as soon as they cannot be part of valid UTF-8 (the validator is then unusable).
    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        if let result = bytes.withContiguousStorageIfAvailable({ feed(UnsafeRawBufferPointer($0)) }) { return result }
        return feedSlowly(bytes)
    }

    /// Contiguous bytes: runs of ASCII are skipped eight bytes at a time, which matters for megabyte messages.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = bytes.count
        while index < count {
            if pending == 0 {
                while index + 8 <= count, bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                    index += 8
                }
                guard index < count else { break }
            }
            guard feedSlowly(CollectionOfOne(bytes[index])) else { return false }
            index += 1
        }
        return true
    }

    private mutating func feedSlowly<Bytes: Sequence>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        for byte in bytes {
            if pending > 0 {
                guard byte >= lowerBound && byte <= upperBound else { return false }
                pending -= 1
                lowerBound = 0x80
                upperBound = 0xBF
                continue
            }
            if byte < 0x80 { continue }
            switch byte {
            case 0xC2...0xDF: pending = 1
            case 0xE0: pending = 2; lowerBound = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: pending = 2
            case 0xED: pending = 2; upperBound = 0x9F
            case 0xF0: pending = 3; lowerBound = 0x90
            case 0xF1...0xF3: pending = 3
            case 0xF4: pending = 3; upperBound = 0x8F
            default: return false
            }
        }
        return true
    }

    /// Whether everything fed so far ends on a code point boundary: checked once the last fragment arrived.
    public var isComplete: Bool { pending == 0 }
}

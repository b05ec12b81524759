/// Where a client stands in a channel's stream: the stream's epoch and the offset of the last publication seen.
///
/// Offsets start at 1 for the first publication; offset 0 means "nothing published yet". They stay below 2^53 so that
/// JavaScript reads them exactly. The epoch is a short opaque string that changes whenever the stream's history is
/// lost, so a client never mistakes a new stream for the old one.
public struct StreamPosition: Hashable, Sendable, CustomStringConvertible {
    public static let maxOffset: UInt64 = (1 << 53) - 1

    public var epoch: String
    public var offset: UInt64

    public init(epoch: String, offset: UInt64) {
        self.epoch = epoch
        self.offset = offset
    }

    /// `EPOCH:OFFSET`, the form used in SSE event ids and in the `since` query parameter.
    public var description: String { "\(epoch):\(offset)" }

    /// Parses `EPOCH:OFFSET`; nil for anything else.
    public init?(parsing text: Substring) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let epoch = text[..<colon]
        let offsetText = text[text.index(after: colon)...]
        guard Self.isValidEpoch(epoch), !offsetText.isEmpty, offsetText.utf8.count <= 16,
            offsetText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let offset = UInt64(offsetText), offset <= Self.maxOffset
        else { return nil }
        self.init(epoch: String(epoch), offset: offset)
    }

    /// Epochs are 1–16 ASCII letters or digits.
    public static func isValidEpoch(_ epoch: Substring) -> Bool {
        !epoch.isEmpty && epoch.utf8.count <= 16
            && epoch.utf8.allSatisfy {
                ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z"))
                    || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
            }
    }
}

/// `protocol.notice`, `protocol.notice_sunset`, `protocol.notice_sdks`: what the server tells the clients it will stop
/// serving — a `notice` push right after their `connect` reply (docs/protocol.md §13). Off while `message` is empty.
public struct DeprecationNotice: Sendable, Equatable {
    /// The text shown to developers (clients log it); empty turns the notice off.
    public var message = ""
    /// The day after which they may be refused, `YYYY-MM-DD`; nil when not announced.
    public var sunset: String?
    /// Which sessions get it, by the `sdk` their `connect` named (`switchboard-js/0.9.1`): a session whose `sdk`
    /// starts with one of these prefixes; ``unnamed`` matches sessions that named none (clients older than the
    /// `sdk` member). Empty: every session.
    public var sdkPrefixes: [String] = []

    /// The prefix that stands for sessions whose `connect` named no `sdk`.
    public static let unnamed = "unnamed"

    /// No notice.
    public init() {}

    public init(message: String, sunset: String? = nil, sdkPrefixes: [String] = []) {
        self.message = message
        self.sunset = sunset
        self.sdkPrefixes = sdkPrefixes
    }

    /// Whether a session whose `connect` named `sdk` (nil: none) gets the notice.
    public func concerns(sdk: String?) -> Bool {
        guard !message.isEmpty else { return false }
        guard !sdkPrefixes.isEmpty else { return true }
        guard let sdk else { return sdkPrefixes.contains(Self.unnamed) }
        return sdkPrefixes.contains { $0 != Self.unnamed && sdk.hasPrefix($0) }
    }

    /// Whether `text` names an SDK as `connect` accepts it: 1–64 printable ASCII characters, no spaces
    /// (`NAME/VERSION` by convention). It reaches logs and the notice rules, so it is kept short and plain.
    public static func isValidSDK(_ text: String) -> Bool {
        let bytes = text.utf8
        return (1...64).contains(bytes.count) && bytes.allSatisfy { (0x21...0x7E).contains($0) }
    }

    /// Whether `text` is a calendar date written `YYYY-MM-DD`.
    public static func isValidSunset(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]), year >= 1970,
            (1...12).contains(month)
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return (1...days).contains(day) && parts.allSatisfy { $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }
    }
}

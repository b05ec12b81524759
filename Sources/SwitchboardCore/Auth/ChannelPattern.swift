/// A channel pattern from a token's capabilities: an exact name, a prefix ending in `*` (`chat:*`, `chat:team-*`),
/// or `*` for every channel.
public struct ChannelPattern: Hashable, Sendable, CustomStringConvertible {
    public let text: String

    public init(_ text: String) { self.text = text }

    public func matches(_ channel: ChannelName) -> Bool {
        guard text.hasSuffix("*") else { return text == channel.rawValue }
        return channel.rawValue.hasPrefix(text.dropLast())
    }

    public var description: String { text }
}

/// What a token grants beyond the namespace defaults. A token that carries capabilities is a closed list: only the
/// channels named may be used for that action.
public struct Capabilities: Hashable, Sendable {
    public var subscribe: [ChannelPattern]
    public var publish: [ChannelPattern]
    public var presence: [ChannelPattern]

    public init(subscribe: [ChannelPattern] = [], publish: [ChannelPattern] = [], presence: [ChannelPattern] = []) {
        self.subscribe = subscribe
        self.publish = publish
        self.presence = presence
    }
}

extension Array where Element == ChannelPattern {
    public func matches(_ channel: ChannelName) -> Bool { contains { $0.matches(channel) } }
}

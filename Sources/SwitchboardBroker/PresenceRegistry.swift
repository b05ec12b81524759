import NIOConcurrencyHelpers
public import SwitchboardCore

/// Who is present on which channel of this node, for engines that keep presence in memory (the embedded engines:
/// presence is about connections, which a restart ends anyway).
///
/// A channel's table goes when its last member leaves. Joins and leaves are announced to the sink under the registry's
/// lock, so the join and the leave of one client reach subscribers in that order.
public final class PresenceRegistry: Sendable {
    private let tables = NIOLockedValueBox<[ChannelName: PresenceTable]>([:])

    public init() {}

    /// Adds `member`; true when it was not present yet. With `announce`, `sink` gets the `join` event.
    public func join(_ member: PresenceMember, channel: ChannelName, announce: Bool, sink: (any PublicationSink)?) -> Bool {
        tables.withLockedValue { tables in
            guard tables[channel, default: PresenceTable()].join(member) else { return false }
            if announce { sink?.deliver(event: .presence(.join, channel: channel, member: member)) }
            return true
        }
    }

    /// Removes a client; with `announce`, `sink` gets the `leave` event.
    public func leave(client: String, channel: ChannelName, announce: Bool, sink: (any PublicationSink)?) {
        tables.withLockedValue { tables in
            // In place: a copy taken out of the dictionary would copy every member on each leave (quadratic when a
            // crowd leaves at once).
            guard let member = tables[channel]?.leave(client: client) else { return }
            if tables[channel]?.isEmpty == true { tables[channel] = nil }
            if announce { sink?.deliver(event: .presence(.leave, channel: channel, member: member)) }
        }
    }

    /// A page of the channel's members ordered by client id, after `cursor`.
    public func page(channel: ChannelName, after cursor: String?, limit: Int) -> PresencePage {
        tables.withLockedValue { tables in (tables[channel] ?? PresenceTable()).page(after: cursor, limit: limit) }
    }

    /// The users present on the channel (the recipients of a receipt record).
    public func users(on channel: ChannelName) -> Set<String> {
        tables.withLockedValue { $0[channel]?.users ?? [] }
    }
}

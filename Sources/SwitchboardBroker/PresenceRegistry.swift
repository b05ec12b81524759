import NIOConcurrencyHelpers
public import NIOCore
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

    /// Replaces a present client's info; false when it is not present. With `announce`, `sink` gets the
    /// `presence_update` event.
    public func update(client: String, info: ByteBuffer?, channel: ChannelName, announce: Bool, sink: (any PublicationSink)?) -> Bool {
        tables.withLockedValue { tables in
            guard let member = tables[channel]?.update(client: client, info: info) else { return false }
            if announce { sink?.deliver(event: .presence(.presenceUpdate, channel: channel, member: member)) }
            return true
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

/// An engine whose presence and signals stay on this node (the embedded engines): the presence calls and `signal`
/// are written once, here.
public protocol KeepsPresenceOnThisNode: Broker {
    var presenceRegistry: PresenceRegistry { get }
    /// The hub the engine delivers to, nil before `attach(sink:)` and after `run()` ended.
    var attachedSink: (any PublicationSink)? { get }
}

extension KeepsPresenceOnThisNode {
    public func presenceJoin(_ member: PresenceMember, channel: ChannelName, announce: Bool) async throws -> Bool {
        presenceRegistry.join(member, channel: channel, announce: announce, sink: attachedSink)
    }

    public func presenceLeave(client: String, channel: ChannelName, announce: Bool) async throws {
        presenceRegistry.leave(client: client, channel: channel, announce: announce, sink: attachedSink)
    }

    public func presenceUpdate(client: String, info: ByteBuffer?, channel: ChannelName, announce: Bool) async throws -> Bool {
        presenceRegistry.update(client: client, info: info, channel: channel, announce: announce, sink: attachedSink)
    }

    public func presence(channel: ChannelName, after cursor: String?, limit: Int) async throws -> PresencePage {
        presenceRegistry.page(channel: channel, after: cursor, limit: limit)
    }

    public func signal(_ event: EphemeralEvent) async throws {
        attachedSink?.deliver(event: event)
    }
}

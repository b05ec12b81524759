public import NIOCore

/// One connection present on a channel.
public struct PresenceMember: Sendable, Equatable {
    /// The connection's client id (unique per connection).
    public var client: String
    /// The token's user, nil for anonymous connections.
    public var user: String?
    /// Optional JSON shown to others (the `connect` or `subscribe` command's `info`, or `presence_update`), minified.
    public var info: ByteBuffer?

    public init(client: String, user: String?, info: ByteBuffer?) {
        self.client = client
        self.user = user
        self.info = info
    }
}

/// How many are present: connections, and distinct users among them (anonymous connections are not users).
public struct PresenceCounts: Sendable, Equatable {
    public var clients: Int
    public var users: Int

    public init(clients: Int, users: Int) {
        self.clients = clients
        self.users = users
    }
}

/// One page of a channel's members, ordered by client id; `next` is the cursor of the following page.
public struct PresencePage: Sendable {
    public var counts: PresenceCounts
    public var members: [PresenceMember]
    public var next: String?

    public init(counts: PresenceCounts, members: [PresenceMember], next: String?) {
        self.counts = counts
        self.members = members
        self.next = next
    }
}

/// Who is present on one channel. Counts are kept incrementally, so they stay cheap for channels with tens of
/// thousands of members; member lists are read in pages.
public struct PresenceTable: Sendable {
    public static let maxPageSize = 1000

    private var members: [String: PresenceMember] = [:]
    private var connectionsPerUser: [String: Int] = [:]

    public init() {}

    /// The distinct users present (anonymous connections are not users).
    public var users: Set<String> { Set(connectionsPerUser.keys) }

    public var counts: PresenceCounts { PresenceCounts(clients: members.count, users: connectionsPerUser.count) }
    public var isEmpty: Bool { members.isEmpty }

    /// Adds a member; false when that client was already present (nothing changes).
    public mutating func join(_ member: PresenceMember) -> Bool {
        guard members[member.client] == nil else { return false }
        members[member.client] = member
        if let user = member.user { connectionsPerUser[user, default: 0] += 1 }
        return true
    }

    /// Removes a client; the member it was, or nil when it was not present.
    public mutating func leave(client: String) -> PresenceMember? {
        guard let member = members.removeValue(forKey: client) else { return nil }
        if let user = member.user {
            let left = connectionsPerUser[user, default: 1] - 1
            connectionsPerUser[user] = left > 0 ? left : nil
        }
        return member
    }

    /// Replaces a present client's info; the updated member, or nil when that client is not present.
    public mutating func update(client: String, info: ByteBuffer?) -> PresenceMember? {
        guard members[client] != nil else { return nil }
        members[client]!.info = info
        return members[client]
    }

    /// Members with client ids after `cursor` (nil: from the start), at most `limit` of them.
    public func page(after cursor: String?, limit: Int) -> PresencePage {
        let size = min(max(limit, 1), Self.maxPageSize)
        var ids = members.keys.filter { cursor == nil || $0 > cursor! }
        ids.sort()
        let taken = ids.prefix(size)
        let next = ids.count > size ? taken.last : nil
        return PresencePage(counts: counts, members: taken.map { members[$0]! }, next: next)
    }
}

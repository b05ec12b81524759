import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO
import SwitchboardCore

/// Presence shared by every node of a cluster: members are rows of `switchboard_presence` tagged with the node that
/// holds their connection; joins, leaves and info updates are sent to the other nodes as events (``EventBus``) in the
/// transaction that changes the row, and delivered on this node after it commits.
///
/// A node that dies cannot say its members left: every node writes its `switchboard_nodes` row every second
/// (``heartbeat(now:)``), and any node removes the members of a node not seen for ``nodeTimeout`` and announces their
/// leaves. A node that lost the database for longer may find its members reaped when it is back: it keeps its own
/// members in memory and puts them back (announcing joins) at its next heartbeat, and drops rows of members that left
/// while their leave could not be written.
final class ClusterPresence: Sendable {
    /// A member this node holds, and whether its channel announces joins and leaves.
    struct OwnMember: Sendable {
        var member: PresenceMember
        var announce: Bool
    }

    private let client: PostgresClient
    private let node: String
    private let logger: Logger
    let nodeTimeout: Duration
    private let own = NIOLockedValueBox<[ChannelName: [String: OwnMember]]>([:])
    /// The last heartbeat failed (or none ran yet): the next one checks the table against ``own``.
    private let needsResync = NIOLockedValueBox(true)
    /// Changes of this node's members run side by side; putting the table back in step runs alone.
    private let gate = ResyncGate()

    /// Where other nodes forward requests for this node's sessions (``NodeDirectory``), written with every heartbeat.
    let advertisedURL = NIOLockedValueBox<String?>(nil)

    /// Adds `url` to `switchboard_nodes` when a database made before it lacks the column (once per database).
    static let urlColumn = "ALTER TABLE switchboard_nodes ADD COLUMN IF NOT EXISTS url text"

    init(client: PostgresClient, node: String, nodeTimeout: Duration, logger: Logger) {
        self.client = client
        self.node = node
        self.nodeTimeout = nodeTimeout
        self.logger = logger
    }

    static let tables = """
        CREATE TABLE IF NOT EXISTS switchboard_nodes (node text PRIMARY KEY, seen_at bigint NOT NULL, url text);
        CREATE TABLE IF NOT EXISTS switchboard_presence (
            channel text NOT NULL,
            client text NOT NULL,
            node text NOT NULL,
            user_id text,
            info bytea,
            announce boolean NOT NULL,
            PRIMARY KEY (channel, client)
        );
        CREATE INDEX IF NOT EXISTS switchboard_presence_by_node ON switchboard_presence (node);
        """

    // MARK: members

    /// Adds the member; true when it was not present. Announced to every node when `announce`.
    func join(_ member: PresenceMember, channel: ChannelName, announce: Bool, deliver: (EphemeralEvent) -> Void) async throws -> Bool {
        await gate.beginChange()
        defer { gate.endChange() }
        own.withLockedValue { $0[channel, default: [:]][member.client] = OwnMember(member: member, announce: announce) }
        let event = EphemeralEvent.presence(.join, channel: channel, member: member)
        let node = self.node
        let logger = self.logger
        let inserted = try await client.withTransaction(logger: logger) { connection -> Bool in
            let rows = try await connection.query(
                """
                INSERT INTO switchboard_presence (channel, client, node, user_id, info, announce)
                VALUES (\(channel.rawValue), \(member.client), \(node), \(member.user), \(member.info), \(announce))
                ON CONFLICT (channel, client) DO NOTHING RETURNING 1
                """, logger: logger
            ).collect()
            guard !rows.isEmpty else { return false }
            if announce { try await Self.notify(event, origin: node, connection, logger) }
            return true
        }
        if inserted && announce { deliver(event) }
        return inserted
    }

    /// Removes the member; announced to every node when `announce`.
    func leave(client memberClient: String, channel: ChannelName, announce: Bool, deliver: (EphemeralEvent) -> Void) async throws {
        await gate.beginChange()
        defer { gate.endChange() }
        own.withLockedValue { own in
            own[channel]?[memberClient] = nil
            if own[channel]?.isEmpty == true { own[channel] = nil }
        }
        let node = self.node
        let logger = self.logger
        let event = try await client.withTransaction(logger: logger) { connection -> EphemeralEvent? in
            let rows = try await connection.query(
                """
                DELETE FROM switchboard_presence WHERE channel = \(channel.rawValue) AND client = \(memberClient)
                RETURNING user_id, info
                """, logger: logger
            ).collect()
            guard let row = rows.first, announce else { return nil }
            let (user, info) = try row.decode((String?, ByteBuffer?).self)
            let event = EphemeralEvent.presence(.leave, channel: channel, member: PresenceMember(client: memberClient, user: user, info: info))
            try await Self.notify(event, origin: node, connection, logger)
            return event
        }
        if let event { deliver(event) }
    }

    /// Replaces a present member's info; false when it is not present.
    func update(
        client memberClient: String, info: ByteBuffer?, channel: ChannelName, announce: Bool, deliver: (EphemeralEvent) -> Void
    ) async throws -> Bool {
        await gate.beginChange()
        defer { gate.endChange() }
        own.withLockedValue { $0[channel]?[memberClient]?.member.info = info }
        let node = self.node
        let logger = self.logger
        let outcome = try await client.withTransaction(logger: logger) { connection -> (found: Bool, event: EphemeralEvent?) in
            let rows = try await connection.query(
                """
                UPDATE switchboard_presence SET info = \(info) WHERE channel = \(channel.rawValue) AND client = \(memberClient)
                RETURNING user_id
                """, logger: logger
            ).collect()
            guard let row = rows.first else { return (false, nil) }
            guard announce else { return (true, nil) }
            let user = try row.decode(String?.self)
            let event = EphemeralEvent.presence(
                .presenceUpdate, channel: channel, member: PresenceMember(client: memberClient, user: user, info: info))
            try await Self.notify(event, origin: node, connection, logger)
            return (true, event)
        }
        if let event = outcome.event { deliver(event) }
        return outcome.found
    }

    /// A page of the channel's members on every node, in client-id order, and the counts.
    func page(channel: ChannelName, after cursor: String?, limit: Int) async throws -> PresencePage {
        let size = min(max(limit, 1), PresenceTable.maxPageSize)
        let logger = self.logger
        return try await client.withConnection { connection in
            var members: [PresenceMember] = []
            for try await (memberClient, user, info) in try await connection.query(
                """
                SELECT client, user_id, info FROM switchboard_presence
                WHERE channel = \(channel.rawValue) AND (\(cursor)::text IS NULL OR client > \(cursor))
                ORDER BY client LIMIT \(Int64(size + 1))
                """, logger: logger
            ).decode((String, String?, ByteBuffer?).self) {
                members.append(PresenceMember(client: memberClient, user: user, info: info))
            }
            let counted = try await connection.query(
                "SELECT count(*), count(DISTINCT user_id) FROM switchboard_presence WHERE channel = \(channel.rawValue)", logger: logger
            ).collect().first?.decode((Int64, Int64).self)
            let counts = PresenceCounts(clients: Int(counted?.0 ?? 0), users: Int(counted?.1 ?? 0))
            let more = members.count > size
            if more { members.removeLast() }
            return PresencePage(counts: counts, members: members, next: more ? members.last?.client : nil)
        }
    }

    /// The users present on the channel on every node (the recipients of a receipt record).
    static func users(on channel: ChannelName, _ connection: PostgresConnection, _ logger: Logger) async throws -> Set<String> {
        var users: Set<String> = []
        for try await user in try await connection.query(
            "SELECT DISTINCT user_id FROM switchboard_presence WHERE channel = \(channel.rawValue) AND user_id IS NOT NULL", logger: logger
        ).decode(String.self) {
            users.insert(user)
        }
        return users
    }

    // MARK: liveness

    /// Writes this node's row before anything of it reaches the table (each time the engine's reader connects, before
    /// calls are allowed): a node killed before its first heartbeat still has a row that ages, so its members leave.
    func register(now: Int64, _ connection: PostgresConnection) async throws {
        let url = advertisedURL.withLockedValue { $0 }
        try await connection.query(
            """
            INSERT INTO switchboard_nodes (node, seen_at, url) VALUES (\(node), \(now), \(url))
            ON CONFLICT (node) DO UPDATE SET seen_at = excluded.seen_at, url = excluded.url
            """, logger: logger)
    }

    /// Marks this node alive, puts back its members if the table lost them, and removes the members of nodes not seen
    /// for ``nodeTimeout`` (announcing their leaves). Every second from the engine's run loop; tests call it directly.
    func heartbeat(now: Int64, deliver: (EphemeralEvent) -> Void) async throws {
        let node = self.node
        let logger = self.logger
        let url = advertisedURL.withLockedValue { $0 }
        do {
            let isNew = try await client.withConnection { connection in
                try await connection.query(
                    """
                    INSERT INTO switchboard_nodes (node, seen_at, url) VALUES (\(node), \(now), \(url))
                    ON CONFLICT (node) DO UPDATE SET seen_at = excluded.seen_at, url = excluded.url RETURNING (xmax = 0)
                    """, logger: logger
                ).collect().first?.decode(Bool.self) ?? true
            }
            if isNew || needsResync.withLockedValue({ $0 }) { try await resync(deliver: deliver) }
            needsResync.withLockedValue { $0 = false }
            let cutoff = now - Int64(clamping: nodeTimeout.components.seconds * 1_000_000_000)
            try await reap(before: cutoff, deliver: deliver)
        } catch {
            needsResync.withLockedValue { $0 = true }
            throw error
        }
    }

    /// Makes this node's rows match the members it holds: puts back the missing ones, removes the ones that left.
    private func resync(deliver: (EphemeralEvent) -> Void) async throws {
        await gate.beginResync()
        defer { gate.endResync() }
        let members = own.withLockedValue { $0 }
        let node = self.node
        let logger = self.logger
        let events = try await client.withTransaction(logger: logger) { connection -> [EphemeralEvent] in
            var events: [EphemeralEvent] = []
            var stored: Set<[String]> = []
            for try await (name, memberClient, user, info, announce) in try await connection.query(
                "SELECT channel, client, user_id, info, announce FROM switchboard_presence WHERE node = \(node)", logger: logger
            ).decode((String, String, String?, ByteBuffer?, Bool).self) {
                guard let channel = try? ChannelName(validating: name) else { continue }
                if members[channel]?[memberClient] != nil {
                    stored.insert([name, memberClient])
                    continue
                }
                try await connection.query(
                    "DELETE FROM switchboard_presence WHERE channel = \(name) AND client = \(memberClient)", logger: logger)
                if announce {
                    events.append(.presence(.leave, channel: channel, member: PresenceMember(client: memberClient, user: user, info: info)))
                }
            }
            for (channel, byClient) in members {
                for (memberClient, held) in byClient where !stored.contains([channel.rawValue, memberClient]) {
                    try await connection.query(
                        """
                        INSERT INTO switchboard_presence (channel, client, node, user_id, info, announce)
                        VALUES (\(channel.rawValue), \(memberClient), \(node), \(held.member.user), \(held.member.info), \(held.announce))
                        ON CONFLICT (channel, client) DO NOTHING
                        """, logger: logger)
                    if held.announce { events.append(.presence(.join, channel: channel, member: held.member)) }
                }
            }
            for event in events { try await Self.notify(event, origin: node, connection, logger) }
            return events
        }
        if !events.isEmpty { logger.info("presence put back in step with this node's connections", metadata: ["events": "\(events.count)"]) }
        for event in events { deliver(event) }
    }

    /// Removes the nodes not seen since `cutoff` and their members, announcing the leaves.
    private func reap(before cutoff: Int64, deliver: (EphemeralEvent) -> Void) async throws {
        let node = self.node
        let logger = self.logger
        let events = try await client.withTransaction(logger: logger) { connection -> [EphemeralEvent] in
            var events: [EphemeralEvent] = []
            for try await (name, memberClient, user, info, announce) in try await connection.query(
                """
                WITH dead AS (DELETE FROM switchboard_nodes WHERE seen_at < \(cutoff) AND node <> \(node) RETURNING node)
                DELETE FROM switchboard_presence p USING dead WHERE p.node = dead.node
                RETURNING p.channel, p.client, p.user_id, p.info, p.announce
                """, logger: logger
            ).decode((String, String, String?, ByteBuffer?, Bool).self) {
                guard announce, let channel = try? ChannelName(validating: name) else { continue }
                events.append(.presence(.leave, channel: channel, member: PresenceMember(client: memberClient, user: user, info: info)))
            }
            for event in events { try await Self.notify(event, origin: node, connection, logger) }
            return events
        }
        if !events.isEmpty { logger.info("removed the presence of nodes that stopped answering", metadata: ["leaves": "\(events.count)"]) }
        for event in events { deliver(event) }
    }

    private static func notify(_ event: EphemeralEvent, origin: String, _ connection: PostgresConnection, _ logger: Logger) async throws {
        guard let payload = EventBus.encode(event, origin: origin) else { return }
        try await connection.query("SELECT pg_notify(\(EventBus.channel), \(payload))", logger: logger)
    }
}

/// Lets this node's presence changes run side by side and a resync alone: a resync waits for the changes in flight
/// and holds new ones back until it ends, so it never puts back a member whose leave is being written, nor removes
/// one whose join is. Ending is synchronous (a `defer` can end it).
final class ResyncGate: Sendable {
    private struct State {
        var changes = 0
        var resyncing = false
        var heldChanges: [CheckedContinuation<Void, Never>] = []
        /// The resync waiting for the changes in flight to end.
        var waitingResync: CheckedContinuation<Void, Never>?
        /// Resyncs asked for while one runs (two heartbeats at once): each runs after the one before.
        var queuedResyncs: [CheckedContinuation<Void, Never>] = []
    }

    private let state = NIOLockedValueBox(State())

    /// Returns once this change may run: at once, or when the resync in progress ended (which counts it in).
    func beginChange() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let admitted = state.withLockedValue { state -> Bool in
                guard !state.resyncing else {
                    state.heldChanges.append(continuation)
                    return false
                }
                state.changes += 1
                return true
            }
            if admitted { continuation.resume() }
        }
    }

    func endChange() {
        let resync = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            state.changes -= 1
            guard state.changes == 0, let resync = state.waitingResync else { return nil }
            state.waitingResync = nil
            return resync
        }
        resync?.resume()
    }

    /// Returns once no change runs and no other resync does.
    func beginResync() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLockedValue { state -> Bool in
                guard !state.resyncing else {
                    state.queuedResyncs.append(continuation)
                    return false
                }
                state.resyncing = true
                guard state.changes > 0 else { return true }
                state.waitingResync = continuation
                return false
            }
            if ready { continuation.resume() }
        }
    }

    func endResync() {
        let (next, held) = state.withLockedValue { state -> (CheckedContinuation<Void, Never>?, [CheckedContinuation<Void, Never>]) in
            // No change was admitted meanwhile, so the next resync may start at once.
            if !state.queuedResyncs.isEmpty { return (state.queuedResyncs.removeFirst(), []) }
            state.resyncing = false
            // The held changes are admitted now, counted before they resume.
            let held = state.heldChanges
            state.heldChanges = []
            state.changes += held.count
            return (nil, held)
        }
        next?.resume()
        for change in held { change.resume() }
    }
}

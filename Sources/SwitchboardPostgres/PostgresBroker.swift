import Foundation
public import Logging
import NIOConcurrencyHelpers
public import NIOCore
import PostgresNIO
import ServiceLifecycle
public import SwitchboardBroker
public import SwitchboardCore

/// The shared engine: several Switchboard nodes on one PostgreSQL database serve the same channels.
///
/// **Offsets.** A publish is one transaction (``PostgresSchema/publishRowFunction``): it locks its channel's shard row,
/// increments the channel's top offset, inserts the row with the shard's next id, and sends an empty NOTIFY at commit.
/// Offsets are gapless per channel; ids are contiguous per shard in commit order.
///
/// **Delivery.** Every node — the publishing one too — reads `shard = ANY(…) AND id > cursor` in batches on its own
/// connection, woken by the NOTIFY or by the poll interval, and hands rows to the hub in id order through the gap guard
/// (offset n of a channel only after n−1; a hole is read from the table first). A publish on this node is answered
/// after its row reached this node's hub (or at once when the reader is disconnected: it is committed and follows).
/// Bodies never travel in NOTIFY, so a missed notification costs latency, never a message.
///
/// **Epochs.** Channels get the generation epoch when created; the database's identity (system identifier and
/// timeline) is recorded, and a node that finds another one (a failover to a standby, which may have lost the tail)
/// gives every channel a new epoch: clients get a reset, never "recovered" over lost publications.
///
/// **Presence, signals and receipt events** are shared by the nodes: presence in `switchboard_presence`
/// (``ClusterPresence``), the events as NOTIFYs that carry them (``EventBus``).
public final class PostgresBroker: Broker, NodeDirectory {
    private let settings: PostgresSettings
    private let client: PostgresClient
    private let policy: @Sendable (ChannelName) -> HistoryPolicy
    private let defaultPolicy: HistoryPolicy
    /// When this node's last trim started: channels published since then are checked for keys beyond their capacity.
    private let lastTrimStart = NIOLockedValueBox<Int64>(0)
    private let now: @Sendable () -> UInt64
    private let trimInterval: Duration?
    private let retentionGrace: UInt64
    private let logger: Logger
    private let sinkBox = NIOLockedValueBox<(any PublicationSink)?>(nil)
    private let reader = StreamReader()
    private let status = NIOLockedValueBox(Status())
    /// This node's id in the events it sends to the others (``EventBus``), on its presence rows and in the session
    /// addresses it makes (``NodeDirectory``).
    public let nodeID: String
    private let clusterPresence: ClusterPresence
    private let heartbeatInterval: Duration?

    private struct Status {
        /// The schema is checked and the reader's cursors set: calls may go to the database.
        var ready = false
        var epochRotations = 0
        var connectionIDs = 0
    }

    /// Rows deleted per trim statement: short transactions keep publishes flowing while a large backlog expires.
    static let trimBatch = 2_000
    /// Rows one reader query returns at most.
    static let readBatch = 1_000

    /// - Parameters:
    ///   - settings: the database and `engine.postgres.*`.
    ///   - policy: history size, TTL and idempotency window per channel (from its namespace).
    ///   - defaultPolicy: the retention `switchboard_publish` gives a channel no node published to yet.
    ///   - now: wall-clock nanoseconds since 1970 (stored expiry times are compared across nodes); injectable for TTL tests.
    ///   - trimInterval: how often `run()` trims; nil leaves it to callers of ``trim()`` (tests).
    ///   - retentionGrace: nanoseconds a row stays after it left the history (capacity, TTL) so that nodes whose reader
    ///     lags still deliver it; tests set 0.
    ///   - nodeTimeout: a node not seen for this long is taken for dead: its presence members leave.
    ///   - heartbeatInterval: how often `run()` marks this node alive (``heartbeat()``); nil leaves it to callers (tests).
    public init(
        settings: PostgresSettings, policy: @escaping @Sendable (ChannelName) -> HistoryPolicy, defaultPolicy: HistoryPolicy,
        now: @escaping @Sendable () -> UInt64 = { PostgresBroker.wallClockNanoseconds() }, trimInterval: Duration? = .seconds(1),
        retentionGrace: UInt64 = 60_000_000_000, nodeTimeout: Duration = .seconds(10), heartbeatInterval: Duration? = .seconds(1),
        logger: Logger = Logger(label: "switchboard.postgres")
    ) {
        self.heartbeatInterval = heartbeatInterval
        self.settings = settings
        var clientConfiguration = settings.clientConfiguration
        clientConfiguration.options.additionalStartupParameters = [("application_name", "switchboard")]
        let client = PostgresClient(configuration: clientConfiguration, backgroundLogger: logger)
        self.client = client
        let node = EpochGenerator.make() + EpochGenerator.make()
        self.nodeID = node
        self.clusterPresence = ClusterPresence(client: client, node: node, nodeTimeout: nodeTimeout, logger: logger)
        self.policy = policy
        self.defaultPolicy = defaultPolicy
        self.now = now
        self.trimInterval = trimInterval
        self.retentionGrace = retentionGrace
        self.logger = logger
    }

    public static func wallClockNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    public var attachedSink: (any PublicationSink)? { sinkBox.withLockedValue { $0 } }

    public func attach(sink: any PublicationSink) { sinkBox.withLockedValue { $0 = sink } }

    public var callsMayBlock: Bool { true }

    /// Ready (schema checked) and the reader's connection works: false while the database is unreachable.
    public var isAvailable: Bool { status.withLockedValue { $0.ready } && reader.isConnected }

    /// Returns once ``isAvailable`` is `available` (tests and tools; wrap it in a deadline).
    public func waitUntilAvailable(_ available: Bool = true) async {
        await reader.waitUntilConnected(available)
    }

    /// How many times this node gave every channel a new epoch because the database's identity changed.
    public var epochRotations: Int { status.withLockedValue { $0.epochRotations } }

    // MARK: running

    /// Runs the connection pool, the reader (with its LISTEN) and trimming until graceful shutdown or cancellation.
    /// - Throws: ``EngineSetupError`` when the database cannot be used by this server (a newer schema, another shard
    ///   count); an unreachable database is retried, not thrown.
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await self.client.run() }
                group.addTask { try await self.readLoop() }
                if let interval = self.trimInterval { group.addTask { await self.trimLoop(every: interval) } }
                if let interval = self.heartbeatInterval { group.addTask { await self.heartbeatLoop(every: interval) } }
                defer { group.cancelAll() }
                _ = try await group.next()
            }
        }
        reader.setConnected(false)
        sinkBox.withLockedValue { $0 = nil }
    }

    /// Every `interval`: this node is alive, its presence rows are in step, dead nodes' members leave.
    private func heartbeatLoop(every interval: Duration) async {
        var failing = false
        while (try? await Task.sleep(for: interval)) != nil {
            guard isAvailable else { continue }
            do {
                // A beat that hangs must not hold the loop past the time after which the others take this node for
                // dead; the next beat tries again (and puts the presence back in step).
                try await DeadlineBroker.run("heartbeat", timeout: clusterPresence.nodeTimeout / 2) { try await self.heartbeat() }.get()
                failing = false
            } catch {
                if !failing { logger.warning("the presence heartbeat failed", metadata: ["error": "\(error)"]) }
                failing = true
            }
        }
    }

    /// Marks this node alive, puts its presence back in step and removes dead nodes' members (what the run loop does
    /// every second; tests call it).
    public func heartbeat() async throws {
        let sink = attachedSink
        try await clusterPresence.heartbeat(now: Int64(clamping: now())) { sink?.deliver(event: $0) }
    }

    private func trimLoop(every interval: Duration) async {
        while (try? await Task.sleep(for: interval)) != nil {
            guard isAvailable else { continue }
            do {
                try await trim()
            } catch {
                logger.warning("trimming history failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Connects the reader, checks the schema and the database's identity, then LISTENs and reads until the
    /// connection fails (reconnecting with a growing delay, at most 2 s) or the task is cancelled.
    private func readLoop() async throws {
        var failures = 0
        while !Task.isCancelled {
            do {
                let id = status.withLockedValue { status in
                    status.connectionIDs += 1
                    return status.connectionIDs
                }
                var configuration = try settings.connectionConfiguration()
                configuration.options.additionalStartupParameters = [("application_name", "switchboard-reader")]
                let connection = try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
                logger.debug("reader connected", metadata: ["connection": "\(id)"])
                do {
                    try await prepare(connection)
                    logger.debug("reader prepared", metadata: ["connection": "\(id)"])
                    if failures > 0 { logger.info("the database is reachable again") }
                    failures = 0
                    // The LISTEN runs beside the reads, not around them: reads go on (every poll interval) while it is
                    // being set up, and a LISTEN that never completes cannot hold the reader up. It ends with the connection.
                    let listener = Task {
                        try await connection.listen(on: PostgresSchema.notifyChannel) { notifications in
                            self.logger.debug("reader listening")
                            for try await _ in notifications { self.reader.wake.signal() }
                        }
                    }
                    // Signals and receipt events from the other nodes, delivered to this node's subscribers.
                    let events = Task {
                        try await connection.listen(on: EventBus.channel) { notifications in
                            for try await notification in notifications { self.receiveEvent(notification.payload) }
                        }
                    }
                    defer {
                        listener.cancel()
                        events.cancel()
                    }
                    try await pollLoop(connection)
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch {
                logger.debug("reader failed", metadata: ["error": "\(String(reflecting: PostgresErrors.underlying(error)))"])
                if let refusal = PostgresErrors.underlying(error) as? EngineSetupError { throw refusal }
                reader.setConnected(false)
                if Task.isCancelled { return }
                failures += 1
                if failures == 1 {
                    logger.error(
                        "the database is unreachable: publishes are refused (503) until it is back",
                        metadata: ["error": "\(PostgresErrors.engineError(error, operation: "read"))"])
                }
                let delay = Duration.milliseconds(min(100 << min(failures - 1, 5), 2_000))
                guard (try? await Task.sleep(for: delay)) != nil else { return }
            }
        }
    }

    /// Most one read of new rows may take before the reader gives its connection up and reconnects.
    static let readDeadline: Duration = .seconds(10)

    private func pollLoop(_ connection: PostgresConnection) async throws {
        // A connection that closes while the reader waits wakes it at once.
        connection.closeFuture.whenComplete { [reader] _ in reader.wake.signal() }
        while !Task.isCancelled {
            // A query written to a connection that has just closed may never be answered (postgres-nio drops it):
            // check first, and put a deadline on the read as well.
            guard !connection.isClosed else { throw ReaderConnectionLost() }
            let read = await DeadlineBroker.run("read", timeout: Self.readDeadline) { [self] in
                do {
                    try await readNewRows(connection)
                } catch {
                    throw PostgresErrors.engineError(error, operation: "read")
                }
            }
            if case .failure(let error) = read {
                try? await connection.close()
                throw error
            }
            reader.setConnected(true)
            await reader.wake.wait(timeout: settings.pollInterval)
        }
    }

    /// Reads and delivers every row committed after the cursors, in batches.
    private func readNewRows(_ connection: PostgresConnection) async throws {
        while true {
            let (shards, after) = reader.cursorArrays()
            let rows = try await connection.query(
                """
                SELECT p.shard, p.id, p.channel, p."offset", p.epoch, p.data, p.sender, p.idempotency_key, p.key, p.flags
                FROM switchboard_publications p
                JOIN unnest(\(shards)::int[], \(after)::bigint[]) AS c(shard, after) ON p.shard = c.shard AND p.id > c.after
                ORDER BY p.shard, p.id LIMIT \(Self.readBatch)
                """, logger: logger)
            var count = 0
            for try await (shard, id, name, offset, epoch, data, sender, idempotencyKey, key, flags) in rows.decode(
                (Int32, Int64, String, Int64, String, ByteBuffer, String?, String?, String?, Int32).self)
            {
                count += 1
                if let channel = try? ChannelName(validating: name) {
                    let publication = PostgresRecords.publication(
                        channel: channel, epoch: epoch, offset: offset, data: data, sender: sender, idempotencyKey: idempotencyKey, key: key,
                        flags: flags)
                    try await deliverInOrder(publication, connection)
                } else {
                    logger.warning(
                        "skipped a row with an invalid channel name (written to the table directly?)", metadata: ["channel": "\(name)"])
                }
                reader.advance(shard: shard, to: id)
            }
            if count > 0 { logger.trace("reader delivered rows", metadata: ["rows": "\(count)"]) }
            if count < Self.readBatch { return }
        }
    }

    /// The gap guard: delivers offset n only after n−1, reading a hole from the table first. A hole the table no longer
    /// has (trimmed) is passed on: the subscriber's own check reads history and answers with a reset if it must.
    private func deliverInOrder(_ publication: Publication, _ connection: PostgresConnection) async throws {
        let sink = sinkBox.withLockedValue { $0 }
        switch reader.admission(of: publication) {
        case .duplicate:
            return
        case .deliver:
            break
        case .gap(let after):
            let rows = try await connection.query(
                """
                SELECT "offset", data, sender, idempotency_key, key, flags FROM switchboard_publications
                WHERE channel = \(publication.channel.rawValue) AND epoch = \(publication.epoch)
                  AND "offset" > \(Int64(after)) AND "offset" < \(Int64(publication.offset))
                ORDER BY "offset"
                """, logger: logger)
            for try await (offset, data, sender, idempotencyKey, key, flags) in rows.decode(
                (Int64, ByteBuffer, String?, String?, String?, Int32).self)
            {
                let missing = PostgresRecords.publication(
                    channel: publication.channel, epoch: publication.epoch, offset: offset, data: data, sender: sender,
                    idempotencyKey: idempotencyKey, key: key, flags: flags)
                sink?.deliver(missing)
                reader.delivered(missing)
            }
        }
        sink?.deliver(publication)
        reader.delivered(publication)
    }

    /// Creates or checks the schema, checks the database's identity (rotating epochs after a failover), and sets the
    /// reader's cursors (moving them back when the database lost the tail they had read).
    private func prepare(_ connection: PostgresConnection) async throws {
        let identity = await databaseIdentity(connection)
        let settings = self.settings
        let defaultPolicy = self.defaultPolicy
        let logger = self.logger
        let rotated = try await connection.withTransaction(logger: logger) { connection -> Bool in
            try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.setupLockKey))", logger: logger)
            // DDL only when the schema is missing: `CREATE INDEX IF NOT EXISTS` still locks its table, which would make
            // every reconnect wait for (or deadlock with) publishers that hold a shard lock.
            if try await !Self.checkExistingSchema(connection, settings: settings, logger: logger) {
                for statement in PostgresSchema.tables.components(separatedBy: ";\n")
                where !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    """
                    INSERT INTO switchboard_meta (key, value) VALUES ('schema_version', \(String(PostgresSchema.version))),
                        ('shards', \(String(settings.shards))), ('generation_epoch', \(EpochGenerator.make()))
                    """, logger: logger)
                try await connection.query(
                    "INSERT INTO switchboard_shards (shard) SELECT generate_series(0, \(Int32(settings.shards - 1)))", logger: logger)
            }
            // The presence tables came after schema version 1 (older servers ignore them): made when missing only.
            let hasPresence = try await connection.query("SELECT to_regclass('switchboard_presence') IS NOT NULL", logger: logger)
                .collect().first?.decode(Bool.self)
            let hasURLs = try await connection.query(
                "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'switchboard_nodes' AND column_name = 'url')",
                logger: logger
            ).collect().first?.decode(Bool.self)
            if hasPresence == true && hasURLs != true {
                try await connection.query(PostgresQuery(unsafeSQL: ClusterPresence.urlColumn), logger: logger)
            }
            if hasPresence != true {
                for statement in ClusterPresence.tables.components(separatedBy: ";\n")
                where !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
            }
            let hasRevocations = try await connection.query("SELECT to_regclass('switchboard_revoked_tokens') IS NOT NULL", logger: logger)
                .collect().first?.decode(Bool.self)
            if hasRevocations != true { try await connection.query(PostgresQuery(unsafeSQL: ClusterControl.table), logger: logger) }
            try await clusterPresence.register(now: Int64(clamping: now()), connection)
            // Functions on every start (they take no table lock): a database made by an earlier build gets this
            // build's checks, such as switchboard_publish's channel-name grammar.
            for function in [PostgresSchema.shardFunction, PostgresSchema.publishRowFunction, PostgresSchema.publishFunction] {
                try await connection.query(PostgresQuery(unsafeSQL: function), logger: logger)
            }
            let ttl = defaultPolicy.ttlNanoseconds.map { String(Int64(clamping: $0)) } ?? ""
            try await connection.query(
                """
                INSERT INTO switchboard_meta (key, value) VALUES ('default_capacity', \(String(defaultPolicy.capacity))),
                    ('default_ttl_ns', \(ttl)), ('default_key_window_ns', \(String(Self.keyWindow(defaultPolicy))))
                ON CONFLICT (key) DO UPDATE SET value = excluded.value
                """, logger: logger)
            guard let identity else { return false }
            let stored = try await connection.query("SELECT value FROM switchboard_meta WHERE key = 'database_identity'", logger: logger)
                .collect().first?.decode(String.self)
            try await connection.query(
                """
                INSERT INTO switchboard_meta (key, value) VALUES ('database_identity', \(identity))
                ON CONFLICT (key) DO UPDATE SET value = excluded.value
                """, logger: logger)
            guard let stored, stored != identity else { return false }
            try await connection.query(
                "UPDATE switchboard_channels SET epoch = substr(md5(random()::text || name), 1, 8)", logger: logger)
            try await connection.query(
                "UPDATE switchboard_meta SET value = \(EpochGenerator.make()) WHERE key = 'generation_epoch'", logger: logger)
            return true
        }
        if rotated {
            status.withLockedValue { $0.epochRotations += 1 }
            logger.warning(
                "the database is not the one the engine last saw (system identifier/timeline changed: a failover?): every channel has a new epoch, clients reset"
            )
        }
        var tops: [Int32: Int64] = [:]
        for try await (shard, top) in try await connection.query("SELECT shard, top_id FROM switchboard_shards", logger: logger).decode(
            (Int32, Int64).self)
        {
            tops[shard] = top
        }
        let movedBack = reader.adopt(tops: tops)
        if !movedBack.isEmpty {
            logger.warning("the database is behind what this node read (lost tail): reading from its top", metadata: ["shards": "\(movedBack)"])
        }
        // Revocations made while this node was not listening (reconnecting, or not started yet).
        let revocations = try await ClusterControl.revocations(now: Int64(clamping: now() / 1_000_000_000), connection, logger: logger)
        if let sink = attachedSink { for command in revocations { sink.apply(control: command) } }
        status.withLockedValue { $0.ready = true }
    }

    /// Whether the schema exists (and is one this node can use); false when it must be created.
    private static func checkExistingSchema(_ connection: PostgresConnection, settings: PostgresSettings, logger: Logger) async throws -> Bool {
        let exists = try await connection.query("SELECT to_regclass('switchboard_meta') IS NOT NULL", logger: logger).collect().first?.decode(
            Bool.self)
        guard exists == true else { return false }
        var meta: [String: String] = [:]
        for try await (key, value) in try await connection.query(
            "SELECT key, value FROM switchboard_meta WHERE key IN ('schema_version', 'shards')", logger: logger
        ).decode((String, String).self) {
            meta[key] = value
        }
        if let version = meta["schema_version"].flatMap(Int.init), version > PostgresSchema.version {
            throw EngineSetupError(
                key: PostgresSettings.urlKey,
                reason: "the database has Switchboard schema version \(version), newer than this server's \(PostgresSchema.version): run that version"
            )
        }
        if let shards = meta["shards"].flatMap(Int.init), shards != settings.shards {
            throw EngineSetupError(
                key: "engine.postgres.shards",
                reason: "the database was set up with \(shards) shards and every node must use that number (this one has \(settings.shards))")
        }
        return true
    }

    /// "system identifier/timeline", nil when this user may not read them (then a failover is not detected: grant
    /// `pg_monitor`).
    private func databaseIdentity(_ connection: PostgresConnection) async -> String? {
        do {
            return try await connection.query(
                "SELECT (SELECT system_identifier FROM pg_control_system())::text || '/' || (SELECT timeline_id FROM pg_control_checkpoint())::text",
                logger: logger
            ).collect().first?.decode(String.self)
        } catch {
            logger.warning(
                "cannot read the database's system identifier and timeline (grant pg_monitor): a failover that loses the tail would not be detected",
                metadata: ["error": "\(PostgresErrors.engineError(error, operation: "identity"))"])
            return nil
        }
    }

    // MARK: publishing

    private func requireAvailable(_ operation: String) throws(EngineError) {
        guard isAvailable else {
            throw EngineError(.unavailable, operation: operation, detail: "the database is unreachable")
        }
    }

    private static func keyWindow(_ policy: HistoryPolicy) -> Int64 {
        let window = policy.idempotencyWindow
        return window.isEnabled ? Int64(clamping: window.retentionNanoseconds) : 0
    }

    /// The users present on a receipts publication's channel, on every node.
    private func recipients(of request: PublishRequest) async throws -> Set<String> {
        guard request.receipts else { return [] }
        let logger = self.logger
        return try await client.withConnection { connection in try await ClusterPresence.users(on: request.channel, connection, logger) }
    }

    private func publishQuery(_ request: PublishRequest, now: Int64, recipients: Set<String>) throws -> PostgresQuery {
        let policy = self.policy(request.channel)
        var receipt: ByteBuffer?
        if request.receipts {
            let record = ReceiptRecord(publisher: request.sender, recipients: recipients, maxRecipients: policy.receiptsMaxRecipients)
            receipt = ByteBuffer(bytes: try JSONEncoder().encode(record))
        }
        let ttl = policy.ttlNanoseconds.map { Int64(clamping: $0) }
        return """
            SELECT o_epoch, o_offset, o_duplicate, o_shard, o_id FROM switchboard_publish_row(
                \(request.channel.rawValue), \(request.data), \(request.sender), \(request.idempotencyKey), \(request.key),
                \(PostgresRecords.flags(of: request)), \(Int32(clamping: policy.capacity)), \(ttl), \(Self.keyWindow(policy)), \(now), \(receipt))
            """
    }

    private struct Published: Sendable {
        var result: PublishResult
        var shard: Int32
        var id: Int64?
    }

    private static func published(_ rows: PostgresRowSequence, request: PublishRequest) async throws -> Published {
        for try await (epoch, offset, duplicate, shard, id) in rows.decode((String, Int64, Bool, Int32, Int64?).self) {
            let publication = Publication(
                channel: request.channel, epoch: epoch, offset: UInt64(offset), data: request.data, sender: request.sender,
                idempotencyKey: request.idempotencyKey, key: request.key, highPriority: request.highPriority, receipts: request.receipts)
            return Published(result: PublishResult(publication: publication, isDuplicate: duplicate), shard: shard, id: id)
        }
        throw EngineError(.internal, operation: "publish", detail: "switchboard_publish_row returned no row")
    }

    public func publish(_ request: PublishRequest) async throws -> PublishResult {
        try requireAvailable("publish")
        do {
            let query = try publishQuery(request, now: Int64(clamping: now()), recipients: try await recipients(of: request))
            let published = try await Self.published(try await client.query(query, logger: logger), request: request)
            if let id = published.id {
                reader.wake.signal()
                await reader.waitUntilDelivered(shard: published.shard, id: id)
            }
            return published.result
        } catch {
            throw PostgresErrors.engineError(error, operation: "publish")
        }
    }

    /// One transaction. The shards it touches are locked first, in ascending order, so two batches never wait on each
    /// other's shards (a deadlock).
    public func publish(batch requests: [PublishRequest]) async -> [Result<PublishResult, any Error>] {
        do {
            try requireAvailable("publish")
            let now = Int64(clamping: self.now())
            var queries: [PostgresQuery] = []
            for request in requests { queries.append(try publishQuery(request, now: now, recipients: try await recipients(of: request))) }
            let names = requests.map(\.channel.rawValue)
            let logger = self.logger
            let published = try await client.withTransaction(logger: logger) { connection -> [Published] in
                try await connection.query(
                    """
                    SELECT 1 FROM switchboard_shards
                    WHERE shard IN (SELECT switchboard_shard_of(name) FROM unnest(\(names)::text[]) AS n(name))
                    ORDER BY shard FOR UPDATE
                    """, logger: logger)
                var published: [Published] = []
                for (request, query) in zip(requests, queries) {
                    published.append(try await Self.published(try await connection.query(query, logger: logger), request: request))
                }
                return published
            }
            reader.wake.signal()
            var highest: [Int32: Int64] = [:]
            for entry in published { if let id = entry.id { highest[entry.shard] = max(highest[entry.shard] ?? 0, id) } }
            for (shard, id) in highest { await reader.waitUntilDelivered(shard: shard, id: id) }
            return published.map { .success($0.result) }
        } catch {
            let failure = PostgresErrors.engineError(error, operation: "publish")
            return requests.map { _ in .failure(failure) }
        }
    }

    // MARK: reading

    private struct Head: Sendable {
        var position: StreamPosition
        /// Offsets at or below this one left the history by capacity.
        var floor: Int64
    }

    private static func head(of channel: ChannelName, _ connection: PostgresConnection, logger: Logger) async throws -> Head {
        let rows = try await connection.query(
            """
            SELECT coalesce(c.epoch, m.value), coalesce(c.top_offset, 0), coalesce(c.capacity, 0)
            FROM switchboard_meta m LEFT JOIN switchboard_channels c ON c.name = \(channel.rawValue)
            WHERE m.key = 'generation_epoch'
            """, logger: logger)
        for try await (epoch, top, capacity) in rows.decode((String, Int64, Int32).self) {
            return Head(position: StreamPosition(epoch: epoch, offset: UInt64(top)), floor: max(top - Int64(capacity), 0))
        }
        throw EngineError(.internal, operation: "read", detail: "the schema has no generation epoch")
    }

    private static func publications(
        of channel: ChannelName, head: Head, after: UInt64, limit: Int, now: Int64, _ connection: PostgresConnection, logger: Logger
    ) async throws -> [Publication] {
        guard limit > 0 else { return [] }
        let top = Int64(head.position.offset)
        let rows = try await connection.query(
            """
            SELECT "offset", data, sender, idempotency_key, key, flags FROM switchboard_publications
            WHERE channel = \(channel.rawValue) AND "offset" > \(max(Int64(clamping: after), head.floor)) AND "offset" <= \(top)
              AND expires_at > \(now)
            ORDER BY "offset" LIMIT \(Int64(limit))
            """, logger: logger)
        var publications: [Publication] = []
        for try await (offset, data, sender, idempotencyKey, key, flags) in rows.decode((Int64, ByteBuffer, String?, String?, String?, Int32).self) {
            publications.append(
                PostgresRecords.publication(
                    channel: channel, epoch: head.position.epoch, offset: offset, data: data, sender: sender, idempotencyKey: idempotencyKey,
                    key: key,
                    flags: flags))
        }
        return publications
    }

    private func read<T: Sendable>(_ operation: String, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        try requireAvailable(operation)
        do {
            return try await client.withConnection { connection in try await body(connection) }
        } catch {
            throw PostgresErrors.engineError(error, operation: operation)
        }
    }

    public func recover(channel: ChannelName, since: StreamPosition?, limit: Int) async throws -> Recovery {
        let now = Int64(clamping: self.now())
        let logger = self.logger
        return try await read("recover") { connection in
            let head = try await Self.head(of: channel, connection, logger: logger)
            let oldest = try await connection.query(
                """
                SELECT min("offset") FROM switchboard_publications
                WHERE channel = \(channel.rawValue) AND "offset" > \(head.floor) AND "offset" <= \(Int64(head.position.offset)) AND expires_at > \(now)
                """, logger: logger
            ).collect().first?.decode(Int64?.self)
            switch RecoveryPlan(since: since, position: head.position, oldestHeld: oldest.flatMap { $0 }.map(UInt64.init), limit: limit) {
            case .answer(let recovery):
                return recovery
            case .read(let after, let count):
                let publications = try await Self.publications(
                    of: channel, head: head, after: after, limit: count, now: now, connection, logger: logger)
                // A hole inside the window (an older TTL than its neighbours, a trim in between) cannot be recovered exactly.
                guard publications.count == count else {
                    return Recovery(outcome: .reset(.outsideWindow), position: head.position, publications: [])
                }
                return Recovery(outcome: .recovered, position: head.position, publications: publications)
            }
        }
    }

    public func history(channel: ChannelName, after: UInt64, limit: Int) async throws -> (position: StreamPosition, publications: [Publication]) {
        let now = Int64(clamping: self.now())
        let logger = self.logger
        let page = try await read("history") { connection in
            let head = try await Self.head(of: channel, connection, logger: logger)
            return HistoryPage(
                position: head.position,
                publications: try await Self.publications(of: channel, head: head, after: after, limit: limit, now: now, connection, logger: logger))
        }
        return (page.position, page.publications)
    }

    private struct HistoryPage: Sendable {
        var position: StreamPosition
        var publications: [Publication]
    }

    // MARK: receipts

    public func receipts(channel: ChannelName, offset: UInt64) async throws -> ReceiptRecord? {
        let now = Int64(clamping: self.now())
        let logger = self.logger
        let data = try await read("receipts") { connection in
            try await connection.query(
                """
                SELECT r.record FROM switchboard_receipts r JOIN switchboard_channels c ON c.name = r.channel
                WHERE r.channel = \(channel.rawValue) AND r."offset" = \(Int64(offset)) AND r.expires_at > \(now)
                  AND r."offset" > c.top_offset - c.capacity
                """, logger: logger
            ).collect().first?.decode(ByteBuffer.self)
        }
        guard let data else { return nil }
        return try JSONDecoder().decode(ReceiptRecord.self, from: Data(data.readableBytesView))
    }

    public func acknowledge(channel: ChannelName, offset: UInt64, user: String, status: ReceiptRecord.Status) async throws -> Bool {
        try requireAvailable("acknowledge")
        let now = Int64(clamping: self.now())
        let logger = self.logger
        let outcome: AcknowledgeOutcome
        do {
            outcome = try await client.withTransaction(logger: logger) { connection -> AcknowledgeOutcome in
                guard
                    let data = try await connection.query(
                        """
                        SELECT r.record FROM switchboard_receipts r JOIN switchboard_channels c ON c.name = r.channel
                        WHERE r.channel = \(channel.rawValue) AND r."offset" = \(Int64(offset)) AND r.expires_at > \(now)
                          AND r."offset" > c.top_offset - c.capacity
                        FOR UPDATE OF r
                        """, logger: logger
                    ).collect().first?.decode(ByteBuffer.self)
                else { return AcknowledgeOutcome(found: false, event: nil) }
                var record = try JSONDecoder().decode(ReceiptRecord.self, from: Data(data.readableBytesView))
                guard let change = record.acknowledge(user: user, status: status) else { return AcknowledgeOutcome(found: true, event: nil) }
                let encoded = ByteBuffer(bytes: try JSONEncoder().encode(record))
                try await connection.query(
                    "UPDATE switchboard_receipts SET record = \(encoded) WHERE channel = \(channel.rawValue) AND \"offset\" = \(Int64(offset))",
                    logger: logger)
                guard let publisher = record.publisher else { return AcknowledgeOutcome(found: true, event: nil) }
                let event = EphemeralEvent.receipt(channel: channel, offset: offset, user: user, status: change, publisher: publisher)
                // Sent at commit: the publisher's sessions on the other nodes get it too.
                if let payload = EventBus.encode(event, origin: nodeID) {
                    try await connection.query("SELECT pg_notify(\(EventBus.channel), \(payload))", logger: logger)
                }
                return AcknowledgeOutcome(found: true, event: event)
            }
        } catch {
            throw PostgresErrors.engineError(error, operation: "acknowledge")
        }
        if let event = outcome.event { attachedSink?.deliver(event: event) }
        return outcome.found
    }

    private struct AcknowledgeOutcome: Sendable {
        var found: Bool
        var event: EphemeralEvent?
    }

    // MARK: presence across nodes

    public func presenceJoin(_ member: PresenceMember, channel: ChannelName, announce: Bool) async throws -> Bool {
        try requireAvailable("presence_join")
        let sink = attachedSink
        do {
            return try await clusterPresence.join(member, channel: channel, announce: announce) { sink?.deliver(event: $0) }
        } catch {
            throw PostgresErrors.engineError(error, operation: "presence_join")
        }
    }

    public func presenceLeave(client: String, channel: ChannelName, announce: Bool) async throws {
        try requireAvailable("presence_leave")
        let sink = attachedSink
        do {
            try await clusterPresence.leave(client: client, channel: channel, announce: announce) { sink?.deliver(event: $0) }
        } catch {
            throw PostgresErrors.engineError(error, operation: "presence_leave")
        }
    }

    public func presenceUpdate(client: String, info: ByteBuffer?, channel: ChannelName, announce: Bool) async throws -> Bool {
        try requireAvailable("presence_update")
        let sink = attachedSink
        do {
            return try await clusterPresence.update(client: client, info: info, channel: channel, announce: announce) { sink?.deliver(event: $0) }
        } catch {
            throw PostgresErrors.engineError(error, operation: "presence_update")
        }
    }

    public func presence(channel: ChannelName, after cursor: String?, limit: Int) async throws -> PresencePage {
        try requireAvailable("presence")
        do {
            return try await clusterPresence.page(channel: channel, after: cursor, limit: limit)
        } catch {
            throw PostgresErrors.engineError(error, operation: "presence")
        }
    }

    // MARK: the node directory

    /// Kept on this node's `switchboard_nodes` row: written now when the database is reachable, and with every
    /// heartbeat and reconnect after.
    public func advertise(url: String) {
        clusterPresence.advertisedURL.withLockedValue { $0 = url }
        guard isAvailable else { return }
        let (client, node, logger) = (self.client, nodeID, self.logger)
        Task {
            try? await client.withConnection { connection in
                _ = try await connection.query("UPDATE switchboard_nodes SET url = \(url) WHERE node = \(node)", logger: logger)
            }
        }
    }

    /// The URL of a node in `switchboard_nodes` (alive, or dead for less than the node timeout: its port then refuses).
    public func url(ofNode node: String) async throws -> String? {
        try requireAvailable("node_lookup")
        let logger = self.logger
        do {
            return try await client.withConnection { connection in
                try await connection.query("SELECT url FROM switchboard_nodes WHERE node = \(node)", logger: logger)
                    .collect().first?.decode(String?.self) ?? nil
            }
        } catch {
            throw PostgresErrors.engineError(error, operation: "node_lookup")
        }
    }

    // MARK: events across nodes

    /// A signal reaches this node's subscribers at once and the other nodes' through a NOTIFY; when the database is
    /// unreachable only this node's get it, and the caller hears that it failed.
    public func signal(_ event: EphemeralEvent) async throws {
        attachedSink?.deliver(event: event)
        try requireAvailable("signal")
        guard let payload = EventBus.encode(event, origin: nodeID) else {
            throw EngineError(.rejected, operation: "signal", detail: "the event does not fit a NOTIFY payload")
        }
        let logger = self.logger
        do {
            try await client.withConnection { connection in
                _ = try await connection.query("SELECT pg_notify(\(EventBus.channel), \(payload))", logger: logger)
            }
        } catch {
            throw PostgresErrors.engineError(error, operation: "signal")
        }
    }

    private func receiveEvent(_ payload: String) {
        if let command = EventBus.decodeControl(payload, skipping: nodeID) {
            attachedSink?.apply(control: command)
        } else if let event = EventBus.decode(payload, skipping: nodeID) {
            attachedSink?.deliver(event: event)
        }
    }

    /// Sends an operator's order to the other nodes (``ClusterControl``); a revocation is stored until it expires.
    public func broadcast(_ command: ControlCommand) async throws {
        try requireAvailable("broadcast")
        guard let payload = EventBus.encode(command, origin: nodeID) else {
            throw EngineError(.rejected, operation: "broadcast", detail: "the order does not fit a NOTIFY payload")
        }
        let logger = self.logger
        do {
            try await client.withConnection { connection in
                _ = try await connection.query(ClusterControl.broadcastQuery(command, payload: payload), logger: logger)
            }
        } catch {
            throw PostgresErrors.engineError(error, operation: "broadcast")
        }
    }

    // MARK: trimming

    /// Deletes publications that left the history (expired, or beyond the channel's capacity) once they are older than
    /// the retention grace, expired receipts and idempotency keys — at most ``trimBatch`` rows per statement,
    /// repeating until none is left — and forgets channels that hold nothing, were not published to within the grace,
    /// and have no subscriber on this node. Any node may trim; they skip each other's locked rows.
    @discardableResult
    public func trim() async throws -> TrimReport {
        let now = Int64(clamping: self.now())
        let settled = now - Int64(clamping: retentionGrace)
        let logger = self.logger
        var report = TrimReport()
        let publishedSince = lastTrimStart.withLockedValue { last in
            defer { last = now }
            return last
        }
        let keyCapacity = Int64(defaultPolicy.idempotencyCapacity)
        do {
            let statements: [(WritableKeyPath<TrimReport, Int>, PostgresQuery)] = [
                (
                    \.publications,
                    """
                    WITH deleted AS (DELETE FROM switchboard_publications WHERE ctid IN (
                        SELECT p.ctid FROM switchboard_publications p JOIN switchboard_channels c ON c.name = p.channel
                        WHERE p.created_at <= \(settled) AND (p.expires_at <= \(now) OR p."offset" <= c.top_offset - c.capacity)
                        LIMIT \(Int64(Self.trimBatch)) FOR UPDATE OF p SKIP LOCKED) RETURNING 1)
                    SELECT count(*) FROM deleted
                    """
                ),
                (
                    \.publications,
                    """
                    WITH deleted AS (DELETE FROM switchboard_publications WHERE ctid IN (
                        SELECT p.ctid FROM switchboard_publications p WHERE p.created_at <= \(settled)
                          AND NOT EXISTS (SELECT 1 FROM switchboard_channels c WHERE c.name = p.channel)
                        LIMIT \(Int64(Self.trimBatch)) FOR UPDATE SKIP LOCKED) RETURNING 1)
                    SELECT count(*) FROM deleted
                    """
                ),
                (
                    \.receipts,
                    """
                    WITH deleted AS (DELETE FROM switchboard_receipts WHERE ctid IN (
                        SELECT r.ctid FROM switchboard_receipts r LEFT JOIN switchboard_channels c ON c.name = r.channel
                        WHERE r.expires_at <= \(now) OR c.name IS NULL OR r."offset" <= c.top_offset - c.capacity
                        LIMIT \(Int64(Self.trimBatch)) FOR UPDATE OF r SKIP LOCKED) RETURNING 1)
                    SELECT count(*) FROM deleted
                    """
                ),
                (
                    \.idempotencyKeys,
                    """
                    WITH deleted AS (DELETE FROM switchboard_idempotency_keys WHERE ctid IN (
                        SELECT ctid FROM switchboard_idempotency_keys WHERE expires_at <= \(now)
                        LIMIT \(Int64(Self.trimBatch)) FOR UPDATE SKIP LOCKED) RETURNING 1)
                    SELECT count(*) FROM deleted
                    """
                ),
                (
                    // A channel keeps its newest `idempotencyCapacity` keys, the oldest go first (as in the other
                    // engines, where it happens at publish time; here at the next trim). Only channels published to
                    // since this node's last trim can have grown.
                    \.idempotencyKeys,
                    """
                    WITH excess AS (
                        SELECT k.ctid FROM switchboard_channels c CROSS JOIN LATERAL (
                            SELECT i.ctid FROM switchboard_idempotency_keys i WHERE i.channel = c.name
                            ORDER BY i.expires_at DESC OFFSET \(keyCapacity)) k
                        WHERE c.published_at >= \(publishedSince)),
                    deleted AS (DELETE FROM switchboard_idempotency_keys WHERE ctid IN (SELECT ctid FROM excess) RETURNING 1)
                    SELECT count(*) FROM deleted
                    """
                ),
            ]
            for (field, statement) in statements {
                while true {
                    let deleted = try await client.withConnection { connection in
                        try await Self.affectedRows(connection.query(statement, logger: logger))
                    }
                    report[keyPath: field] += deleted
                    if deleted < Self.trimBatch { break }
                }
            }
            report.channels = try await forgetEmptyChannels(now: now, settled: settled)
            _ = try await client.withConnection { connection in
                try await connection.query(ClusterControl.trimQuery(now: now / 1_000_000_000), logger: logger)
            }
        } catch {
            throw PostgresErrors.engineError(error, operation: "trim")
        }
        return report
    }

    /// Rows a `WITH deleted AS (DELETE … RETURNING 1) SELECT count(*) FROM deleted` statement removed.
    private static func affectedRows(_ rows: PostgresRowSequence) async throws -> Int {
        Int(try await rows.collect().first?.decode(Int64.self) ?? 0)
    }

    /// Forgets empty channels nobody here subscribes to; a publish racing the delete updates `published_at`, which the
    /// delete re-checks on the row it waited for, so a channel that just got a publication is kept.
    private func forgetEmptyChannels(now: Int64, settled: Int64) async throws -> Int {
        let sink = attachedSink
        let logger = self.logger
        var forgotten = 0
        while true {
            let candidates = try await client.withConnection { connection in
                try await connection.query(
                    """
                    SELECT name FROM switchboard_channels c WHERE c.published_at <= \(settled)
                      AND NOT EXISTS (SELECT 1 FROM switchboard_publications p WHERE p.channel = c.name)
                      AND NOT EXISTS (SELECT 1 FROM switchboard_idempotency_keys k WHERE k.channel = c.name)
                      AND NOT EXISTS (SELECT 1 FROM switchboard_receipts r WHERE r.channel = c.name)
                    LIMIT \(Int64(Self.trimBatch))
                    """, logger: logger
                ).collect().map { try $0.decode(String.self) }
            }
            let names = candidates.filter { name in
                guard let channel = try? ChannelName(validating: name) else { return true }
                return !(sink?.hasSubscribers(channel) ?? false)
            }
            guard !names.isEmpty else { break }
            let deleted = try await client.withTransaction(logger: logger) { connection -> Int in
                let deleted = try await Self.affectedRows(
                    connection.query(
                        """
                        WITH deleted AS (DELETE FROM switchboard_channels c WHERE c.name = ANY(\(names)::text[]) AND c.published_at <= \(settled)
                          AND NOT EXISTS (SELECT 1 FROM switchboard_publications p WHERE p.channel = c.name)
                          AND NOT EXISTS (SELECT 1 FROM switchboard_idempotency_keys k WHERE k.channel = c.name) RETURNING 1)
                        SELECT count(*) FROM deleted
                        """, logger: logger))
                // Positions from before must never meet restarted offsets: channels created from now on get a new epoch.
                if deleted > 0 {
                    try await connection.query(
                        "UPDATE switchboard_meta SET value = \(EpochGenerator.make()) WHERE key = 'generation_epoch'", logger: logger)
                }
                return deleted
            }
            forgotten += deleted
            if candidates.count < Self.trimBatch || deleted == 0 { break }
        }
        return forgotten
    }
}

/// The reader's LISTEN ended: its connection is gone.
private struct ReaderConnectionLost: Error {}

/// How publications are stored in rows, and read back.
enum PostgresRecords {
    private static let highPriorityFlag: Int32 = 1
    private static let receiptsFlag: Int32 = 2

    static func flags(of request: PublishRequest) -> Int32 {
        (request.highPriority ? highPriorityFlag : 0) | (request.receipts ? receiptsFlag : 0)
    }

    static func publication(
        channel: ChannelName, epoch: String, offset: Int64, data: ByteBuffer, sender: String?, idempotencyKey: String?, key: String?, flags: Int32
    ) -> Publication {
        Publication(
            channel: channel, epoch: epoch, offset: UInt64(offset), data: data, sender: sender, idempotencyKey: idempotencyKey, key: key,
            highPriority: flags & highPriorityFlag != 0, receipts: flags & receiptsFlag != 0)
    }
}

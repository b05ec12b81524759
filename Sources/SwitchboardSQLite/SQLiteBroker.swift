import Foundation
import GRDB
public import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
public import SwitchboardBroker
public import SwitchboardCore

/// The embedded durable engine (the default): history, idempotency keys and receipt records in a SQLite database in
/// WAL mode, in the data directory; presence and signals in memory (they are about connections, which a restart ends).
///
/// **Durability.** A publication is answered with its offset only after the transaction that wrote it committed
/// (``GroupCommitWriter``), so after `kill -9` and a restart it is in history with the same epoch and offset, and
/// every channel continues from its stored head. With `synchronous = normal` a commit survives a crash of the process
/// but may roll back on power loss or an OS crash; an unclean stop that also crossed a reboot is detected at the next
/// start (boot id) and every channel gets a new epoch, so no client is told "recovered" over a lost tail.
///
/// **Bounded.** History is trimmed by capacity as it is written and by TTL every `trimInterval` in small batches on
/// the writer queue; a channel with nothing left (no publication, key or receipt) that nobody on this node subscribes
/// to is forgotten, which moves the engine to a new **generation epoch** (as the memory engine does): positions from
/// before get an explicit reset, never restarted offsets.
public final class SQLiteBroker: KeepsPresenceOnThisNode, SubmitsPublications {
    /// Internal rather than private: the Yjs room store (`SQLiteBroker+yjs.swift`) reads and writes through it.
    let pool: DatabasePool
    private let lock: DirectoryLock
    private let writer: GroupCommitWriter
    private let sinkBox = NIOLockedValueBox<(any PublicationSink)?>(nil)
    public let presenceRegistry = PresenceRegistry()
    private let policy: @Sendable (ChannelName) -> HistoryPolicy
    private let now: @Sendable () -> UInt64
    private let trimInterval: Duration?
    private let logger: Logger
    /// The data directory, as opened (absolute).
    public let directory: String
    /// Whether the last stop was unclean and crossed a reboot, so every epoch was rotated at this start.
    public let rotatedEpochsAtStart: Bool

    /// Rows deleted per trim transaction: short transactions keep publishes flowing while a large backlog expires.
    static let trimBatch = 2_000

    /// Opens (creating it on first start) the database in `directory`.
    /// - Parameters:
    ///   - policy: history size, TTL and idempotency window per channel (from its namespace).
    ///   - now: wall-clock nanoseconds since 1970 (stored expiry times must mean the same after a restart);
    ///     injectable so TTL tests need no waiting.
    ///   - bootIDPath: where the machine's boot id is read (tests point it at a file of their own).
    ///   - trimInterval: how often `run()` trims; nil leaves it to callers of ``trim()`` (tests).
    /// - Throws: ``EngineSetupError`` for a directory that cannot be created or written, one in use by another
    ///   process, a file that is not a database, or a schema from a newer server.
    public init(
        directory: String, synchronous: HubConfiguration.SQLiteSynchronous = .normal,
        policy: @escaping @Sendable (ChannelName) -> HistoryPolicy,
        now: @escaping @Sendable () -> UInt64 = { WallClock.nanoseconds() },
        bootIDPath: String = "/proc/sys/kernel/random/boot_id",
        trimInterval: Duration? = .seconds(1),
        logger: Logger = Logger(label: "switchboard.sqlite")
    ) throws(EngineSetupError) {
        let (pool, lock) = try SQLiteStore.open(directory: directory, synchronous: synchronous)
        self.pool = pool
        self.lock = lock
        self.directory = URL(fileURLWithPath: directory).standardizedFileURL.path
        self.policy = policy
        self.now = now
        self.trimInterval = trimInterval
        self.logger = logger
        let start: StartState
        do {
            start = try StartState.mark(
                pool, bootID: BootIdentity.read(from: bootIDPath), rotatesOnUncleanReboot: synchronous == .normal)
        } catch {
            throw EngineSetupError(
                key: SQLiteStore.pathKey, reason: "cannot write to \(self.directory): \(SQLiteStore.reason(error))")
        }
        self.rotatedEpochsAtStart = start.rotated
        let sinkBox = self.sinkBox
        self.writer = GroupCommitWriter(
            pool: pool, generationEpoch: start.generationEpoch, policy: policy, now: now,
            sink: { sinkBox.withLockedValue { $0 } })
        if start.rotated {
            logger.warning(
                "the last stop was unclean and the machine rebooted since: recent commits may have been lost, so every channel has a new epoch (clients reset)",
                metadata: ["directory": "\(self.directory)"])
        }
    }

    public var attachedSink: (any PublicationSink)? { sinkBox.withLockedValue { $0 } }

    public func attach(sink: any PublicationSink) {
        sinkBox.withLockedValue { $0 = sink }
    }

    /// Trims every `trimInterval` (and checks whether a failing disk accepts writes again) until graceful shutdown or
    /// cancellation; then marks the stop as clean, after every write queued before it.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                guard let interval = self.trimInterval, (try? await Task.sleep(for: interval)) != nil else {
                    if self.trimInterval == nil { try? await gracefulShutdown() }
                    return
                }
                do {
                    _ = try await self.trim()
                    try await self.checkpoint()
                } catch {
                    self.logger.warning("trimming history failed", metadata: ["error": "\(error)"])
                }
                // After a failed commit (disk full) a small write tells whether writes work again, so `/readyz`
                // recovers without waiting for a publish to be tried.
                if !self.isAvailable { await self.probeWrites() }
            }
        }
        // In a task of its own: a cancelled run (the service group's, a test's) must still record the clean stop.
        let writer = self.writer
        do {
            try await Task { try await writer.exclusive { db, _ in try StartState.markCleanStop(db) } }.value
        } catch {
            logger.error("could not mark the stop as clean", metadata: ["error": "\(error)"])
        }
        sinkBox.withLockedValue { $0 = nil }
        lock.release()
    }

    /// Database I/O runs on GRDB's queues, never on the caller's thread, but it can take time: calls get deadlines.
    public var callsMayBlock: Bool { true }

    public var isAvailable: Bool { writer.available.withLockedValue { $0 } }

    public func publish(_ request: PublishRequest) async throws -> PublishResult {
        try await withCheckedThrowingContinuation { continuation in
            submit(request) { continuation.resume(with: $0) }
        }
    }

    /// The publish path ``DeadlineBroker`` takes: no task of its own between the caller and the writer.
    public func submit(_ request: PublishRequest, completion: @escaping @Sendable (Result<PublishResult, any Error>) -> Void) {
        let recipients = request.receipts ? presenceRegistry.users(on: request.channel) : []
        writer.submit(.publish(request, recipients: recipients, completion))
    }

    public func publish(batch requests: [PublishRequest]) async -> [Result<PublishResult, any Error>] {
        let recipients = requests.map { $0.receipts ? presenceRegistry.users(on: $0.channel) : [] }
        return await withCheckedContinuation { continuation in
            writer.submit(.publishBatch(requests, recipients: recipients, continuation))
        }
    }

    public func recover(channel: ChannelName, since: StreamPosition?, limit: Int) async throws -> Recovery {
        let now = Int64(clamping: self.now())
        return try await read("recover") { db in
            let position = try Self.position(of: channel, db)
            let oldest = try Int64.fetchOne(
                db, sql: #"SELECT MIN("offset") FROM publications WHERE channel = ? AND expires_at > ?"#,
                arguments: [channel.rawValue, now])
            switch RecoveryPlan(since: since, position: position, oldestHeld: oldest.map(UInt64.init), limit: limit) {
            case .answer(let recovery):
                return recovery
            case .read(let after, let count):
                let publications = try Self.publications(of: channel, epoch: position.epoch, after: after, limit: count, now: now, db)
                // A hole inside the window (an older TTL than its neighbours) cannot be recovered exactly.
                guard publications.count == count else {
                    return Recovery(outcome: .reset(.outsideWindow), position: position, publications: [])
                }
                return Recovery(outcome: .recovered, position: position, publications: publications)
            }
        }
    }

    public func history(channel: ChannelName, after: UInt64, limit: Int) async throws -> (position: StreamPosition, publications: [Publication]) {
        let now = Int64(clamping: self.now())
        let page = try await read("history") { db in
            let position = try Self.position(of: channel, db)
            return HistoryPage(
                position: position, publications: try Self.publications(of: channel, epoch: position.epoch, after: after, limit: limit, now: now, db))
        }
        return (page.position, page.publications)
    }

    public func acknowledge(channel: ChannelName, offset: UInt64, user: String, status: ReceiptRecord.Status) async throws -> Bool {
        try await withCheckedThrowingContinuation { continuation in
            writer.submit(.acknowledge(channel: channel, offset: offset, user: user, status: status, continuation))
        }
    }

    public func receipts(channel: ChannelName, offset: UInt64) async throws -> ReceiptRecord? {
        let now = Int64(clamping: self.now())
        return try await read("receipts") { db in
            guard
                let data = try Data.fetchOne(
                    db, sql: #"SELECT record FROM receipts WHERE channel = ? AND "offset" = ? AND expires_at > ?"#,
                    arguments: [channel.rawValue, Int64(offset), now])
            else { return nil }
            return try SQLiteRecords.decodeReceipt(data)
        }
    }

    /// Copies the WAL into the database file (PASSIVE: never waits for readers), keeping the WAL small; the engine's
    /// commits never do it themselves (`wal_autocheckpoint = 0`).
    public func checkpoint() async throws {
        try await pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(PASSIVE)") }
    }

    /// Writes one row; availability follows the outcome.
    public func probeWrites() async {
        do {
            try await writer.exclusive { db, _ in try StartState.markProbe(db) }
            writer.available.withLockedValue { $0 = true }
        } catch {
            writer.available.withLockedValue { $0 = false }
        }
    }

    /// The writer connection's `PRAGMA synchronous` (1 NORMAL, 2 FULL): what `engine.sqlite.synchronous` became.
    public func writerSynchronousLevel() async throws -> Int {
        try await writer.exclusive { db, _ in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    // MARK: trimming

    /// Deletes expired publications, receipts and idempotency keys (at most ``trimBatch`` of each per transaction,
    /// repeating until none is left) and forgets channels that hold nothing and have no subscriber on this node.
    @discardableResult
    public func trim() async throws -> TrimReport {
        let now = Int64(clamping: self.now())
        var report = TrimReport()
        while true {
            let pass = try await writer.exclusive { db, heads in
                var pass = TrimReport()
                let limit = Self.trimBatch
                try db.execute(
                    sql:
                        #"DELETE FROM publications WHERE (channel, "offset") IN (SELECT channel, "offset" FROM publications WHERE expires_at <= ? LIMIT ?)"#,
                    arguments: [now, limit])
                pass.publications = db.changesCount
                try db.execute(
                    sql: #"DELETE FROM receipts WHERE (channel, "offset") IN (SELECT channel, "offset" FROM receipts WHERE expires_at <= ? LIMIT ?)"#,
                    arguments: [now, limit])
                pass.receipts = db.changesCount
                try db.execute(
                    sql:
                        "DELETE FROM idempotency_keys WHERE (channel, key) IN (SELECT channel, key FROM idempotency_keys WHERE expires_at <= ? LIMIT ?)",
                    arguments: [now, limit])
                pass.idempotencyKeys = db.changesCount
                if pass.idempotencyKeys > 0 { heads.forgetKeyCounts() }
                return pass
            }
            report.publications += pass.publications
            report.receipts += pass.receipts
            report.idempotencyKeys += pass.idempotencyKeys
            if max(pass.publications, pass.receipts, pass.idempotencyKeys) < Self.trimBatch { break }
        }
        let sink = sinkBox.withLockedValue { $0 }
        while true {
            let forgotten = try await writer.exclusive { db, heads in
                let empty = try String.fetchAll(
                    db,
                    sql: """
                        SELECT name FROM channels c
                        WHERE NOT EXISTS (SELECT 1 FROM publications p WHERE p.channel = c.name)
                          AND NOT EXISTS (SELECT 1 FROM idempotency_keys i WHERE i.channel = c.name)
                          AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.channel = c.name)
                        LIMIT ?
                        """, arguments: [Self.trimBatch])
                var forgotten = 0
                for name in empty {
                    guard let channel = try? ChannelName(validating: name), !(sink?.hasSubscribers(channel) ?? false) else { continue }
                    try db.execute(sql: "DELETE FROM channels WHERE name = ?", arguments: [name])
                    heads.forget(channel)
                    forgotten += 1
                }
                if forgotten > 0 { heads.generationEpoch = try StartState.rotateGeneration(db) }
                return (forgotten: forgotten, full: empty.count == Self.trimBatch)
            }
            report.channels += forgotten.forgotten
            if !forgotten.full || forgotten.forgotten == 0 { break }
        }
        if report.publications + report.channels >= FreedMemory.worthReturning {
            // SQLite's page caches first (the writer's now; readers close once idle), then the allocator's free pages.
            try await writer.exclusive { db, _ in db.releaseMemory() }
            pool.releaseMemoryEventually()
            FreedMemory.returnToSystem()
        }
        return report
    }

    // MARK: reads

    private struct HistoryPage: Sendable {
        var position: StreamPosition
        var publications: [Publication]
    }

    private func read<T: Sendable>(_ operation: String, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw SQLiteErrors.engineError(error, operation: operation)
        }
    }

    /// The channel's head; an absent channel reads at offset 0 of the current generation.
    private static func position(of channel: ChannelName, _ db: Database) throws -> StreamPosition {
        if let row = try Row.fetchOne(db, sql: "SELECT epoch, top_offset FROM channels WHERE name = ?", arguments: [channel.rawValue]) {
            return StreamPosition(epoch: row[0], offset: UInt64(row[1] as Int64))
        }
        return StreamPosition(epoch: try StartState.generationEpoch(db), offset: 0)
    }

    private static func publications(
        of channel: ChannelName, epoch: String, after: UInt64, limit: Int, now: Int64, _ db: Database
    ) throws -> [Publication] {
        guard limit > 0 else { return [] }
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT \(SQLiteRecords.publicationColumns) FROM publications
                WHERE channel = ? AND "offset" > ? AND expires_at > ? ORDER BY "offset" LIMIT ?
                """,
            arguments: [channel.rawValue, Int64(clamping: after), now, limit])
        return rows.map { SQLiteRecords.publication($0, channel: channel, epoch: epoch) }
    }
}

/// Wall-clock time for stored expiry times.
public enum WallClock {
    public static func nanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}

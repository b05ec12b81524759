import Foundation
import GRDB
import NIOConcurrencyHelpers
import NIOCore
import SwitchboardBroker
import SwitchboardCore

/// The engine's one writer: publications and receipt acknowledgements queue here and are written in batches, one
/// transaction per batch (group commit), on the database's serial writer queue — never on an event loop.
///
/// Offsets are assigned inside the batch, by the only code that writes channel heads, so concurrent publishers to one
/// channel can neither reuse nor skip an offset. Nothing is delivered or answered before its transaction committed: a
/// publication answered with its offset is on disk, and a failed commit (disk full) answers every job of the batch
/// with an error and leaves no offset used.
final class GroupCommitWriter: Sendable {
    enum Job {
        case publish(PublishRequest, recipients: Set<String>, @Sendable (Result<PublishResult, any Error>) -> Void)
        /// Several publications answered together (the HTTP batch API): one job, one transaction.
        case publishBatch([PublishRequest], recipients: [Set<String>], CheckedContinuation<[Result<PublishResult, any Error>], Never>)
        case acknowledge(
            channel: ChannelName, offset: UInt64, user: String, status: ReceiptRecord.Status, CheckedContinuation<Bool, any Error>)
    }

    private struct Queue {
        var pending: [Job] = []
        /// A batch is scheduled on the writer queue and will take what is pending.
        var scheduled = false
    }

    private let pool: DatabasePool
    private let queue = NIOLockedValueBox(Queue())
    /// Touched only on the database's writer queue (inside `pool` write blocks), which serializes every access.
    private let heads: WriterHeads
    private let policy: @Sendable (ChannelName) -> HistoryPolicy
    private let now: @Sendable () -> UInt64
    private let sink: @Sendable () -> (any PublicationSink)?
    /// Set after every commit: false while writes fail (disk full), so `/readyz` can say so.
    let available = NIOLockedValueBox(true)

    init(
        pool: DatabasePool, generationEpoch: String, policy: @escaping @Sendable (ChannelName) -> HistoryPolicy,
        now: @escaping @Sendable () -> UInt64, sink: @escaping @Sendable () -> (any PublicationSink)?
    ) {
        self.pool = pool
        self.heads = WriterHeads(generationEpoch: generationEpoch)
        self.policy = policy
        self.now = now
        self.sink = sink
    }

    func submit(_ job: Job) {
        let schedule = queue.withLockedValue { queue -> Bool in
            queue.pending.append(job)
            guard !queue.scheduled else { return false }
            queue.scheduled = true
            return true
        }
        if schedule { scheduleBatch() }
    }

    /// One batch per writer-queue block, so trimming (also a writer-queue block) runs between batches under load.
    private func scheduleBatch() {
        pool.asyncWriteWithoutTransaction { [self] db in
            let batch = queue.withLockedValue { queue -> [Job] in
                defer { queue.pending = [] }
                return queue.pending
            }
            if !batch.isEmpty { commit(batch, db) }
            let again = queue.withLockedValue { queue -> Bool in
                queue.scheduled = !queue.pending.isEmpty
                return queue.scheduled
            }
            if again { scheduleBatch() }
        }
    }

    // MARK: the batch

    private enum Effect {
        case published(PublishResult)
        case publishedBatch([PublishResult])
        case acknowledged(Bool, event: EphemeralEvent?)
    }

    private func commit(_ batch: [Job], _ db: Database) {
        var work = BatchWork(heads: heads, now: Int64(clamping: now()), policy: policy)
        var effects: [Effect] = []
        effects.reserveCapacity(batch.count)
        do {
            try db.inTransaction {
                for job in batch {
                    switch job {
                    case .publish(let request, let recipients, _):
                        effects.append(.published(try work.publish(request, recipients: recipients, db)))
                    case .publishBatch(let requests, let recipients, _):
                        var results: [PublishResult] = []
                        results.reserveCapacity(requests.count)
                        for (request, present) in zip(requests, recipients) {
                            results.append(try work.publish(request, recipients: present, db))
                        }
                        effects.append(.publishedBatch(results))
                    case .acknowledge(let channel, let offset, let user, let status, _):
                        let (found, event) = try work.acknowledge(channel: channel, offset: offset, user: user, status: status, db)
                        effects.append(.acknowledged(found, event: event))
                    }
                }
                try work.writeHeads(db)
                return .commit
            }
        } catch {
            let failure = SQLiteErrors.engineError(error, operation: "publish")
            if failure.kind == .unavailable { available.withLockedValue { $0 = false } }
            for job in batch {
                switch job {
                case .publish(_, _, let completion): completion(.failure(failure))
                case .publishBatch(let requests, _, let continuation):
                    continuation.resume(returning: requests.map { _ in .failure(failure) })
                case .acknowledge(_, _, _, _, let continuation):
                    continuation.resume(throwing: EngineError(failure.kind, operation: "acknowledge", detail: failure.detail))
                }
            }
            return
        }
        available.withLockedValue { $0 = true }
        heads.remember(work.touched, keyCounts: work.keyCounts)
        // Delivered in commit order: per channel that is offset order.
        let sink = self.sink()
        for (job, effect) in zip(batch, effects) {
            switch (job, effect) {
            case (.publish(_, _, let completion), .published(let result)):
                if !result.isDuplicate { sink?.deliver(result.publication) }
                completion(.success(result))
            case (.publishBatch(_, _, let continuation), .publishedBatch(let results)):
                for result in results where !result.isDuplicate { sink?.deliver(result.publication) }
                continuation.resume(returning: results.map { .success($0) })
            case (.acknowledge(_, _, _, _, let continuation), .acknowledged(let found, let event)):
                if let event { sink?.deliver(event: event) }
                continuation.resume(returning: found)
            default:
                preconditionFailure("effects follow jobs one to one")
            }
        }
    }

    /// Runs `body` on the writer queue between batches (trimming, the clean-stop mark).
    func exclusive<T: Sendable>(_ body: @escaping @Sendable (Database, WriterHeads) throws -> T) async throws -> T {
        try await pool.write { [heads] db in try body(db, heads) }
    }
}

/// Channel heads (epoch and newest offset) the writer already read or wrote, so a busy channel costs no lookup per
/// publication; bounded, since any head can be read again from the database.
final class WriterHeads: @unchecked Sendable {
    // @unchecked: only ever used on the database's serial writer queue.
    struct Head {
        var epoch: String
        var topOffset: UInt64
    }

    static let maxRemembered = 10_000

    private(set) var byChannel: [ChannelName: Head] = [:]
    /// How many idempotency keys a channel holds, for channels whose count the writer read or kept up to date.
    private(set) var keyCounts: [ChannelName: Int] = [:]
    /// The epoch of channels created now; a new one after every trim that forgot a channel.
    var generationEpoch: String

    init(generationEpoch: String) { self.generationEpoch = generationEpoch }

    func remember(_ touched: [ChannelName: Head], keyCounts counted: [ChannelName: Int]) {
        if byChannel.count + touched.count > Self.maxRemembered { byChannel = [:] }
        byChannel.merge(touched) { _, new in new }
        if keyCounts.count + counted.count > Self.maxRemembered { keyCounts = [:] }
        keyCounts.merge(counted) { _, new in new }
    }

    func forget(_ channel: ChannelName) {
        byChannel[channel] = nil
        keyCounts[channel] = nil
    }

    /// Keys were deleted outside the publish path (expiry): the counts are read again when next needed.
    func forgetKeyCounts() { keyCounts = [:] }
}

/// One batch's writes, before they are known to have committed. Every statement is a cached (prepared once) one:
/// preparing SQL per publication cost more than executing it.
private struct BatchWork {
    let heads: WriterHeads
    let now: Int64
    let policy: @Sendable (ChannelName) -> HistoryPolicy
    private(set) var touched: [ChannelName: WriterHeads.Head] = [:]
    /// Key counts of the channels that got new keys in this batch (the writer's once the batch commits).
    private(set) var keyCounts: [ChannelName: Int] = [:]
    private var capacities: [ChannelName: Int] = [:]
    /// Idempotency keys used earlier in this batch.
    private var keysInBatch: [ChannelName: [String: Publication]] = [:]

    init(heads: WriterHeads, now: Int64, policy: @escaping @Sendable (ChannelName) -> HistoryPolicy) {
        self.heads = heads
        self.now = now
        self.policy = policy
    }

    mutating func publish(_ request: PublishRequest, recipients: Set<String>, _ db: Database) throws -> PublishResult {
        let channel = request.channel
        let policy = self.policy(channel)
        let remembersKeys = policy.idempotencyRetention > .zero && policy.idempotencyCapacity > 0
        /// The key is stored already, expired but not trimmed yet: its row is replaced, the count stays.
        var replacesExpiredKey = false
        if let key = request.idempotencyKey, remembersKeys {
            if let original = keysInBatch[channel]?[key] { return PublishResult(publication: original, isDuplicate: true) }
            if let row = try Row.fetchOne(
                db.cachedStatement(sql: #"SELECT epoch, "offset", expires_at FROM idempotency_keys WHERE channel = ? AND key = ?"#),
                arguments: [channel.rawValue, key])
            {
                if (row[2] as Int64) > now {
                    var original = SQLiteRecords.publication(request, epoch: row[0], offset: UInt64(row[1] as Int64))
                    original.idempotencyKey = key
                    return PublishResult(publication: original, isDuplicate: true)
                }
                replacesExpiredKey = true
            }
        }
        var head = try self.head(of: channel, db)
        precondition(head.topOffset < StreamPosition.maxOffset, "channel offset space exhausted")
        head.topOffset += 1
        touched[channel] = head
        capacities[channel] = policy.capacity
        let publication = SQLiteRecords.publication(request, epoch: head.epoch, offset: head.topOffset)
        let expiresAt = SQLiteRecords.expiry(now: now, after: policy.ttlNanoseconds)
        if policy.capacity > 0 {
            try db.cachedStatement(
                sql:
                    #"INSERT INTO publications (channel, "offset", expires_at, data, sender, idempotency_key, key, flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"#
            ).execute(
                arguments: [
                    channel.rawValue, Int64(publication.offset), expiresAt, SQLiteRecords.blob(publication.data), publication.sender,
                    publication.idempotencyKey, publication.key, SQLiteRecords.flags(of: publication),
                ])
        }
        if request.receipts {
            let record = ReceiptRecord(publisher: publication.sender, recipients: recipients, maxRecipients: policy.receiptsMaxRecipients)
            try db.cachedStatement(
                sql: #"INSERT OR REPLACE INTO receipts (channel, "offset", expires_at, record) VALUES (?, ?, ?, ?)"#
            ).execute(arguments: [channel.rawValue, Int64(publication.offset), expiresAt, try SQLiteRecords.encode(record)])
        }
        if let key = request.idempotencyKey, remembersKeys {
            let keyExpiry = SQLiteRecords.expiry(now: now, after: policy.idempotencyWindow.retentionNanoseconds)
            try db.cachedStatement(
                sql: #"INSERT OR REPLACE INTO idempotency_keys (channel, key, epoch, "offset", expires_at) VALUES (?, ?, ?, ?, ?)"#
            ).execute(arguments: [channel.rawValue, key, publication.epoch, Int64(publication.offset), keyExpiry])
            keysInBatch[channel, default: [:]][key] = publication
            if !replacesExpiredKey { try keepKeyCapacity(channel, capacity: policy.idempotencyCapacity, db) }
        }
        return PublishResult(publication: publication, isDuplicate: false)
    }

    /// A channel just stored one more key: beyond its capacity the oldest keys go, as the in-memory window does. The
    /// count is the writer's (read once per channel with COUNT), so the check costs no scan per publish.
    private mutating func keepKeyCapacity(_ channel: ChannelName, capacity: Int, _ db: Database) throws {
        var count: Int
        if let known = keyCounts[channel] ?? heads.keyCounts[channel] {
            count = known + 1
        } else {
            count =
                try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM idempotency_keys WHERE channel = ?"), arguments: [channel.rawValue])
                ?? 0
        }
        if count > capacity {
            let evicted = try String.fetchAll(
                db.cachedStatement(
                    sql: """
                        DELETE FROM idempotency_keys WHERE channel = ? AND key IN
                            (SELECT key FROM idempotency_keys WHERE channel = ? ORDER BY expires_at LIMIT ?)
                        RETURNING key
                        """),
                arguments: [channel.rawValue, channel.rawValue, count - capacity])
            for key in evicted { keysInBatch[channel]?[key] = nil }
            count -= evicted.count
        }
        keyCounts[channel] = count
    }

    mutating func acknowledge(
        channel: ChannelName, offset: UInt64, user: String, status: ReceiptRecord.Status, _ db: Database
    ) throws -> (found: Bool, event: EphemeralEvent?) {
        guard
            let data = try Data.fetchOne(
                db.cachedStatement(sql: #"SELECT record FROM receipts WHERE channel = ? AND "offset" = ? AND expires_at > ?"#),
                arguments: [channel.rawValue, Int64(offset), now])
        else { return (false, nil) }
        var record = try SQLiteRecords.decodeReceipt(data)
        guard let change = record.acknowledge(user: user, status: status) else { return (true, nil) }
        try db.cachedStatement(
            sql: #"UPDATE receipts SET record = ? WHERE channel = ? AND "offset" = ?"#
        ).execute(arguments: [try SQLiteRecords.encode(record), channel.rawValue, Int64(offset)])
        guard let publisher = record.publisher else { return (true, nil) }
        return (true, .receipt(channel: channel, offset: offset, user: user, status: change, publisher: publisher))
    }

    /// Writes each touched channel's head and drops what its capacity no longer keeps.
    func writeHeads(_ db: Database) throws {
        for (channel, head) in touched {
            try db.cachedStatement(
                sql: """
                    INSERT INTO channels (name, epoch, top_offset) VALUES (?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET epoch = excluded.epoch, top_offset = excluded.top_offset
                    """
            ).execute(arguments: [channel.rawValue, head.epoch, Int64(head.topOffset)])
            let capacity = UInt64(max(capacities[channel] ?? 0, 0))
            if head.topOffset > capacity {
                let keepAfter = Int64(head.topOffset - capacity)
                try db.cachedStatement(
                    sql: #"DELETE FROM publications WHERE channel = ? AND "offset" <= ?"#
                ).execute(arguments: [channel.rawValue, keepAfter])
                try db.cachedStatement(sql: #"DELETE FROM receipts WHERE channel = ? AND "offset" <= ?"#).execute(arguments: [
                    channel.rawValue, keepAfter,
                ])
            }
        }
    }

    private func head(of channel: ChannelName, _ db: Database) throws -> WriterHeads.Head {
        if let head = touched[channel] ?? heads.byChannel[channel] { return head }
        if let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT epoch, top_offset FROM channels WHERE name = ?"), arguments: [channel.rawValue])
        {
            return WriterHeads.Head(epoch: row[0], topOffset: UInt64(row[1] as Int64))
        }
        return WriterHeads.Head(epoch: heads.generationEpoch, topOffset: 0)
    }
}

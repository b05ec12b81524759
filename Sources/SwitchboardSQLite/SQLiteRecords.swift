import Foundation
import GRDB
import NIOCore
import SwitchboardBroker
import SwitchboardCore

/// How publications and receipt records are stored in rows, and read back.
enum SQLiteRecords {
    private static let highPriorityFlag: Int64 = 1
    private static let receiptsFlag: Int64 = 2

    static func flags(of publication: Publication) -> Int64 {
        (publication.highPriority ? highPriorityFlag : 0) | (publication.receipts ? receiptsFlag : 0)
    }

    static func blob(_ buffer: ByteBuffer) -> Data { Data(buffer.readableBytesView) }

    /// When something kept for `ttl` nanoseconds from `now` expires; no TTL never expires.
    static func expiry(now: Int64, after ttl: UInt64?) -> Int64 {
        guard let ttl else { return .max }
        let (sum, overflow) = now.addingReportingOverflow(Int64(clamping: ttl))
        return overflow ? .max : sum
    }

    static func publication(_ request: PublishRequest, epoch: String, offset: UInt64) -> Publication {
        Publication(
            channel: request.channel, epoch: epoch, offset: offset, data: request.data, sender: request.sender,
            idempotencyKey: request.idempotencyKey, key: request.key, highPriority: request.highPriority, receipts: request.receipts)
    }

    /// Columns: "offset", data, sender, idempotency_key, key, flags.
    static let publicationColumns = #""offset", data, sender, idempotency_key, key, flags"#

    /// A row selected with ``publicationColumns``, of `channel` (the query's own, already validated).
    static func publication(_ row: Row, channel: ChannelName, epoch: String) -> Publication {
        let data: Data = row[1]
        let flags: Int64 = row[5]
        return Publication(
            channel: channel, epoch: epoch, offset: UInt64(row[0] as Int64), data: ByteBuffer(bytes: data), sender: row[2],
            idempotencyKey: row[3], key: row[4], highPriority: flags & highPriorityFlag != 0, receipts: flags & receiptsFlag != 0)
    }

    static func encode(_ record: ReceiptRecord) throws -> Data { try JSONEncoder().encode(record) }

    static func decodeReceipt(_ data: Data) throws -> ReceiptRecord { try JSONDecoder().decode(ReceiptRecord.self, from: data) }
}

/// SQLite failures as engine errors: what a retry can fix (a full disk, I/O trouble, a busy file) is `unavailable`.
enum SQLiteErrors {
    static func engineError(_ error: any Error, operation: String) -> EngineError {
        if let engineError = error as? EngineError { return engineError }
        guard let database = error as? DatabaseError else { return EngineError(wrapping: error, operation: operation) }
        switch database.resultCode {
        case .SQLITE_FULL:
            return EngineError(.unavailable, operation: operation, detail: "the disk is full")
        case .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_READONLY, .SQLITE_PROTOCOL:
            return EngineError(.unavailable, operation: operation, detail: "database \(database.resultCode)")
        default:
            return EngineError(.internal, operation: operation, detail: "database \(database.resultCode)")
        }
    }
}

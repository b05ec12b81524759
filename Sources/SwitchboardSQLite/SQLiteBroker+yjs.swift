import Foundation
import GRDB
public import SwitchboardBroker

/// Yjs rooms in the `yjs_updates` table: one row per stored update, numbered per room.
extension SQLiteBroker: YjsRoomStore {
    public func loadYjsRoom(_ room: String) async throws -> [[UInt8]] {
        try await pool.read { db in
            try Data.fetchAll(db, sql: "SELECT data FROM yjs_updates WHERE room = ? ORDER BY seq", arguments: [room]).map { Array($0) }
        }
    }

    public func appendYjsUpdate(_ update: [UInt8], to room: String) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO yjs_updates (room, seq, data) SELECT ?, COALESCE(MAX(seq), 0) + 1, ? FROM yjs_updates WHERE room = ?",
                arguments: [room, Data(update), room])
        }
    }

    public func compactYjsRoom(_ room: String, first count: Int, into merged: [UInt8]) async throws {
        guard count > 0 else { return }
        try await pool.write { db in
            // The merge takes the place (the sequence number) of the newest update it replaces.
            guard
                let last = try Int64.fetchOne(
                    db, sql: "SELECT seq FROM yjs_updates WHERE room = ? ORDER BY seq LIMIT 1 OFFSET ?", arguments: [room, count - 1])
            else { return }
            try db.execute(sql: "DELETE FROM yjs_updates WHERE room = ? AND seq <= ?", arguments: [room, last])
            try db.execute(sql: "INSERT INTO yjs_updates (room, seq, data) VALUES (?, ?, ?)", arguments: [room, last, Data(merged)])
        }
    }
}

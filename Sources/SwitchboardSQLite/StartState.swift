import GRDB
import SwitchboardCore

/// What the `meta` table says about the last run, and what this start writes there.
///
/// `clean_stop` is "0" from the moment a server starts until its `run()` ends after graceful shutdown; `boot_id` is
/// the machine's boot id at the last start. A start that finds "0" stopped uncleanly (killed, crashed, power lost).
struct StartState {
    var generationEpoch: String
    /// Every channel got a new epoch at this start.
    var rotated: Bool

    /// Records this start; rotates every epoch when the last stop was unclean, the machine rebooted since, and
    /// commits were not synced to disk (`rotatesOnUncleanReboot`): the tail of the history may have been lost.
    static func mark(_ pool: DatabasePool, bootID: String?, rotatesOnUncleanReboot: Bool) throws -> StartState {
        try pool.write { db in
            var meta: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT key, value FROM meta") { meta[row[0]] = row[1] }
            var generation = meta["generation_epoch"] ?? EpochGenerator.make()
            var rotated = false
            if rotatesOnUncleanReboot, meta["clean_stop"] == "0", let stored = meta["boot_id"], let bootID, stored != bootID {
                try db.execute(sql: "UPDATE channels SET epoch = lower(hex(randomblob(6)))")
                generation = EpochGenerator.make()
                rotated = true
            }
            try set("generation_epoch", generation, db)
            try set("clean_stop", "0", db)
            try set("boot_id", bootID ?? "", db)
            return StartState(generationEpoch: generation, rotated: rotated)
        }
    }

    static func markCleanStop(_ db: Database) throws {
        try set("clean_stop", "1", db)
    }

    /// A write that needs room for a few publications' worth of pages (32 KiB): a disk with less than that free is
    /// still too full to be called available (a tiny write can succeed in space a publication does not fit in).
    static func markProbe(_ db: Database) throws {
        try set("write_probe", EpochGenerator.make() + String(repeating: "p", count: 32_768), db)
    }

    static func generationEpoch(_ db: Database) throws -> String {
        try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'generation_epoch'") ?? ""
    }

    /// A new generation epoch, after channels were forgotten.
    static func rotateGeneration(_ db: Database) throws -> String {
        let epoch = EpochGenerator.make()
        try set("generation_epoch", epoch, db)
        return epoch
    }

    private static func set(_ key: String, _ value: String, _ db: Database) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [key, value])
    }
}

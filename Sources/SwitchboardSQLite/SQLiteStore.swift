import Foundation
import GRDB
import NIOConcurrencyHelpers
import SwitchboardBroker
import SwitchboardCore

#if canImport(Glibc)
    import Glibc
#endif

/// Opens (or creates) the engine's database in its data directory and checks that it is ours and usable.
///
/// Every refusal is an ``EngineSetupError`` with a message that names the path and what to do; nothing on disk is
/// changed before the checks pass (a corrupted file or one from a newer schema is left as it was).
enum SQLiteStore {
    static let fileName = "switchboard.sqlite"
    static let lockFileName = "switchboard.lock"
    /// The key setup errors name.
    static let pathKey = "engine.sqlite.path"

    /// The schema, one migration per version. A database that has migrations this list lacks comes from a newer
    /// server and is refused.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;
                    CREATE TABLE channels (
                        name TEXT PRIMARY KEY NOT NULL,
                        epoch TEXT NOT NULL,
                        top_offset INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE publications (
                        channel TEXT NOT NULL,
                        "offset" INTEGER NOT NULL,
                        expires_at INTEGER NOT NULL,
                        data BLOB NOT NULL,
                        sender TEXT,
                        idempotency_key TEXT,
                        key TEXT,
                        flags INTEGER NOT NULL,
                        PRIMARY KEY (channel, "offset")
                    ) WITHOUT ROWID;
                    CREATE INDEX publications_by_expiry ON publications(expires_at);
                    CREATE TABLE idempotency_keys (
                        channel TEXT NOT NULL,
                        key TEXT NOT NULL,
                        epoch TEXT NOT NULL,
                        "offset" INTEGER NOT NULL,
                        expires_at INTEGER NOT NULL,
                        PRIMARY KEY (channel, key)
                    ) WITHOUT ROWID;
                    CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys(expires_at);
                    CREATE TABLE receipts (
                        channel TEXT NOT NULL,
                        "offset" INTEGER NOT NULL,
                        expires_at INTEGER NOT NULL,
                        record BLOB NOT NULL,
                        PRIMARY KEY (channel, "offset")
                    ) WITHOUT ROWID;
                    CREATE INDEX receipts_by_expiry ON receipts(expires_at);
                    """)
        }
        migrator.registerMigration("v2-idempotency-keys-by-channel") { db in
            // Evicting a channel's oldest key when it holds more than its capacity.
            try db.execute(sql: "CREATE INDEX idempotency_keys_by_channel_expiry ON idempotency_keys(channel, expires_at)")
        }
        // Yjs rooms (docs/yjs.md): each room's update log, in order; compaction replaces a prefix with its merge.
        migrator.registerMigration("v2-yjs-rooms") { db in
            try db.execute(
                sql: """
                    CREATE TABLE yjs_updates (
                        room TEXT NOT NULL,
                        seq INTEGER NOT NULL,
                        data BLOB NOT NULL,
                        PRIMARY KEY (room, seq)
                    ) WITHOUT ROWID;
                    """)
        }
        return migrator
    }

    /// Creates the directory if needed, takes its lock, opens the database in WAL mode and migrates it.
    static func open(directory: String, synchronous: HubConfiguration.SQLiteSynchronous) throws(EngineSetupError) -> (
        DatabasePool, DirectoryLock
    ) {
        let directoryURL = URL(fileURLWithPath: directory).standardizedFileURL
        let path = directoryURL.path
        do {
            try FileManager.default.createDirectory(at: directoryURL, withIntermediateDirectories: true)
        } catch {
            throw EngineSetupError(key: pathKey, reason: "cannot create the data directory \(path): \(reason(error))")
        }
        guard access(path, W_OK) == 0, isWritable(directory: path) else {
            throw EngineSetupError(key: pathKey, reason: "the data directory \(path) is not writable")
        }
        let lock = try DirectoryLock(directory: path)
        let databasePath = directoryURL.appendingPathComponent(fileName).path
        // An existing file is checked read-only first: opening a pool writes (WAL set-up), and a file that is not ours
        // or is newer must be left exactly as it was.
        if FileManager.default.fileExists(atPath: databasePath) { try checkBeforeWriting(databasePath) }
        var configuration = Configuration()
        // Busy waits are never expected (one process, one writer) but a checkpoint can hold the file briefly.
        configuration.busyMode = .timeout(5)
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: databasePath, configuration: configuration)
            // After the pool's WAL set-up, which sets NORMAL on the writer (the only connection that commits).
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = \(synchronous == .full ? "FULL" : "NORMAL")")
                // Checkpoints run from the engine's trim loop, not in whichever commit crosses 1,000 WAL pages: a
                // publish never waits for one (and its fsync).
                try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
            }
        } catch {
            throw EngineSetupError(
                key: pathKey, reason: "\(databasePath) cannot be opened as a Switchboard database (\(reason(error))); it was left unchanged")
        }
        do {
            try migrator.migrate(pool)
        } catch {
            throw EngineSetupError(
                key: pathKey, reason: "\(databasePath) cannot be used as a Switchboard database (\(reason(error))); it was left unchanged")
        }
        return (pool, lock)
    }

    /// Refuses a file that is not a database or whose schema is newer than ours, reading only.
    private static func checkBeforeWriting(_ databasePath: String) throws(EngineSetupError) {
        var configuration = Configuration()
        configuration.readonly = true
        do {
            let database = try DatabaseQueue(path: databasePath, configuration: configuration)
            defer { try? database.close() }
            let migrator = self.migrator
            let (superseded, applied) = try database.read { db in
                (try migrator.hasBeenSuperseded(db), try migrator.appliedIdentifiers(db).sorted())
            }
            guard !superseded else {
                let unknown = applied.filter { !migrator.migrations.contains($0) }
                throw EngineSetupError(
                    key: pathKey,
                    reason:
                        "\(databasePath) has schema migrations this server does not know (\(unknown.joined(separator: ", "))): it was written by a newer Switchboard; run that version or use another data directory (the file was left unchanged)"
                )
            }
        } catch let error as EngineSetupError {
            throw error
        } catch {
            throw EngineSetupError(
                key: pathKey, reason: "\(databasePath) cannot be opened as a Switchboard database (\(reason(error))); it was left unchanged")
        }
    }

    /// Whether a file can actually be created here (`access` says yes to root even on a read-only mount).
    private static func isWritable(directory: String) -> Bool {
        let probe = directory + "/.switchboard-write-probe-\(getpid())"
        let fd = Glibc.open(probe, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        guard fd >= 0 else { return false }
        close(fd)
        unlink(probe)
        return true
    }

    static func reason(_ error: any Error) -> String {
        if let error = error as? DatabaseError { return error.message ?? "\(error.resultCode)" }
        if let error = error as? CocoaError {
            // Foundation on Linux keeps the errno as a `POSIXError`, which does not cast to `NSError` there: without
            // this the reason would be "The operation could not be completed. (NSCocoaErrorDomain error 512.)".
            if let underlying = error.userInfo[NSUnderlyingErrorKey] as? POSIXError {
                return String(cString: strerror(underlying.code.rawValue))
            }
            if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError {
                return String(cString: strerror(Int32(underlying.code)))
            }
        }
        return error.localizedDescription
    }
}

/// An exclusive lock on the data directory for this process's lifetime: two servers writing one database would assign
/// the same offsets twice.
final class DirectoryLock: Sendable {
    /// The lock file's descriptor while held; nil once released.
    private let descriptor: NIOLockedValueBox<Int32?>

    init(directory: String) throws(EngineSetupError) {
        let path = directory + "/" + SQLiteStore.lockFileName
        let descriptor = Glibc.open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw EngineSetupError(key: SQLiteStore.pathKey, reason: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            Glibc.close(descriptor)
            throw EngineSetupError(
                key: SQLiteStore.pathKey, reason: "the data directory \(directory) is in use by another Switchboard process (lock \(path))")
        }
        self.descriptor = NIOLockedValueBox(descriptor)
    }

    /// Frees the directory for the next engine: at the end of a stopped engine's `run()`, not whenever the last
    /// reference goes (a server restarted in the same process found the directory still in use under load).
    func release() {
        descriptor.withLockedValue { held in
            if let open = held { Glibc.close(open) }
            held = nil
        }
    }

    deinit { release() }
}

/// The machine's boot id: a different one at the next start means the OS restarted in between.
enum BootIdentity {
    static let defaultPath = "/proc/sys/kernel/random/boot_id"

    static func read(from path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return id.isEmpty ? nil : id
    }
}

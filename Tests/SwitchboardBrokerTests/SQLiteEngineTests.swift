import Foundation
import GRDB
import NIOCore
import SwitchboardBroker
import SwitchboardCore
import SwitchboardSQLite
import Testing

#if canImport(Glibc)
    import Glibc
#endif

private let second: UInt64 = 1_000_000_000
private let room = try! ChannelName(validating: "chat:room")

private func request(_ n: Int, idempotencyKey: String? = nil) -> PublishRequest {
    PublishRequest(channel: room, data: ByteBuffer(string: #"{"n":\#(n)}"#), idempotencyKey: idempotencyKey)
}

private func policy(_ channel: ChannelName) -> HistoryPolicy {
    HistoryPolicy(capacity: 100, ttl: nil, idempotencyRetention: .seconds(60))
}

/// A file holding a boot id the test chooses, in place of the machine's.
private func bootIDFile(_ directory: String, _ id: String) -> String {
    let path = directory + "/test-boot-id"
    try! Data((id + "\n").utf8).write(to: URL(fileURLWithPath: path))
    return path
}

/// Opens the engine on `directory`, lets `body` use it, and ends it the way `stop` says.
private func withEngine<T>(
    _ directory: String, synchronous: HubConfiguration.SQLiteSynchronous = .normal, bootID: String = "boot-1", clock: TestClock = TestClock(),
    stop: Stop, _ body: (SQLiteBroker, EngineRecordingSink) async throws -> T
) async throws -> T {
    let sink = EngineRecordingSink()
    let result: T
    do {
        let engine = try SQLiteBroker(
            directory: directory, synchronous: synchronous, policy: policy, now: { clock.now }, bootIDPath: bootIDFile(directory, bootID),
            trimInterval: nil)
        engine.attach(sink: sink)
        switch stop {
        case .graceful:
            let running = Task { try await engine.run() }
            result = try await body(engine, sink)
            running.cancel()
            try await running.value
        case .crash:
            // Like kill -9: the run never ends, so the stop is never marked clean; the lock goes with the engine.
            result = try await body(engine, sink)
        }
    }
    // The engine's last references (its writer's work) may outlive this scope for a moment on a busy machine: the
    // next start waits until the lock is actually free, as a restarted process would find it.
    if case .crash = stop { try await waitUntilUnlocked(directory) }
    return result
}

/// Polls the data directory's lock (an observable condition) until no engine holds it; fails after 10 s.
private func waitUntilUnlocked(_ directory: String) async throws {
    let descriptor = open(directory + "/switchboard.lock", O_RDWR | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    defer { close(descriptor) }
    let deadline = ContinuousClock.now + .seconds(10)
    while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
        guard ContinuousClock.now < deadline else { throw CancellationError() }
        try await Task.sleep(for: .milliseconds(5))
    }
    flock(descriptor, LOCK_UN)
}

private enum Stop { case graceful, crash }

/// The SQLite engine's own promises: what survives a restart, what an unclean stop across a reboot does, and every
/// bad state at start.
@Suite struct SQLiteEngineTests {
    @Test(arguments: [Stop.graceful, .crash])
    fileprivate func historyPositionsAndIdempotencyKeysSurviveARestart(_ stop: Stop) async throws {
        let directory = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let before = try await withEngine(directory, stop: stop) { engine, _ in
            var last: Publication?
            for n in 1...3 { last = try await engine.publish(request(n, idempotencyKey: "k\(n)")).publication }
            return try #require(last)
        }
        try await withEngine(directory, stop: .graceful) { engine, sink in
            #expect(!engine.rotatedEpochsAtStart)
            let recovery = try await engine.recover(channel: room, since: StreamPosition(epoch: before.epoch, offset: 1), limit: 100)
            #expect(recovery.outcome == .recovered)
            #expect(recovery.publications.map(\.offset) == [2, 3])
            #expect(recovery.publications.map { String(buffer: $0.data) } == [#"{"n":2}"#, #"{"n":3}"#])
            let retry = try await engine.publish(request(3, idempotencyKey: "k3"))
            #expect(retry.isDuplicate && retry.publication.position == before.position)
            let next = try await engine.publishing(request(4))
            #expect(next.position == StreamPosition(epoch: before.epoch, offset: 4))
            #expect(sink.offsets(on: room) == [4])
        }
    }

    @Test func anUncleanStopAcrossARebootRotatesEveryEpochUnderSynchronousNormal() async throws {
        let directory = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let before = try await withEngine(directory, bootID: "boot-1", stop: .crash) { engine, _ in
            try await engine.publishing(request(1))
        }
        try await withEngine(directory, bootID: "boot-2", stop: .graceful) { engine, _ in
            #expect(engine.rotatedEpochsAtStart)
            let recovery = try await engine.recover(channel: room, since: before.position, limit: 100)
            #expect(recovery.outcome == .reset(.epochChanged))
            // History stays readable; only positions from before the reboot are refused.
            #expect(recovery.position.offset == 1)
            #expect(try await engine.history(channel: room, after: 0, limit: 10).publications.map(\.offset) == [1])
        }
    }

    @Test func anUncleanStopWithoutARebootOrACleanStopAcrossOneKeepsTheEpochs() async throws {
        let directory = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let before = try await withEngine(directory, bootID: "boot-1", stop: .crash) { engine, _ in try await engine.publishing(request(1)) }
        try await withEngine(directory, bootID: "boot-1", stop: .graceful) { engine, _ in #expect(!engine.rotatedEpochsAtStart) }
        try await withEngine(directory, bootID: "boot-2", stop: .graceful) { engine, _ in
            #expect(!engine.rotatedEpochsAtStart)
            let recovery = try await engine.recover(channel: room, since: before.position, limit: 100)
            #expect(recovery.outcome == .recovered)
        }
    }

    @Test func underSynchronousFullAnUncleanRebootKeepsTheEpochs() async throws {
        let directory = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let before = try await withEngine(directory, synchronous: .full, bootID: "boot-1", stop: .crash) { engine, _ in
            try await engine.publishing(request(1))
        }
        try await withEngine(directory, synchronous: .full, bootID: "boot-2", stop: .graceful) { engine, _ in
            #expect(!engine.rotatedEpochsAtStart)
            let recovery = try await engine.recover(channel: room, since: before.position, limit: 100)
            #expect(recovery.outcome == .recovered)
        }
    }

    @Test(arguments: [(HubConfiguration.SQLiteSynchronous.normal, 1), (.full, 2)])
    func theSynchronousSettingReachesTheWritingConnection(_ setting: HubConfiguration.SQLiteSynchronous, level: Int) async throws {
        let directory = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let engine = try SQLiteBroker(directory: directory, synchronous: setting, policy: policy, trimInterval: nil)
        #expect(try await engine.writerSynchronousLevel() == level)
    }

    @Test func trimmingDeletesExpiredRowsInBatchesAndForgetsTheChannels() async throws {
        let directory = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clock = TestClock()
        let engine = try SQLiteBroker(
            directory: directory, policy: { _ in HistoryPolicy(capacity: 10, ttl: .seconds(5)) }, now: { clock.now }, trimInterval: nil)
        engine.attach(sink: EngineRecordingSink())
        let channels = 5_000
        for n in 0..<channels {
            _ = try await engine.publish(PublishRequest(channel: try ChannelName(validating: "c\(n)"), data: ByteBuffer(string: "1")))
        }
        clock.advance(by: 6 * second)
        let report = try await engine.trim()
        #expect(report.publications == channels)
        #expect(report.channels == channels)
        #expect(try await engine.trim() == TrimReport())
    }

    // MARK: bad states at start

    @Test func aDataDirectoryThatCannotBeCreatedIsRefused() throws {
        let parent = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let file = parent + "/a-file"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        let error = #expect(throws: EngineSetupError.self) { try SQLiteBroker(directory: file + "/data", policy: policy) }
        #expect(error?.key == "engine.sqlite.path")
        // The reason is the system's, not Foundation's wrapper ("The operation could not be completed. …").
        #expect(error?.reason == "cannot create the data directory \(file)/data: Not a directory")
    }

    @Test func aDataDirectoryInUseByAnotherEngineIsRefused() throws {
        let directory = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try SQLiteBroker(directory: directory, policy: policy)
        let error = #expect(throws: EngineSetupError.self) { try SQLiteBroker(directory: directory, policy: policy) }
        #expect(
            error?.reason
                == "the data directory \(directory) is in use by another Switchboard process (lock \(directory)/switchboard.lock)")
        withExtendedLifetime(first) {}
    }

    @Test func aFileThatIsNotADatabaseIsRefusedAndLeftUnchanged() throws {
        let directory = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        let file = directory + "/switchboard.sqlite"
        try garbage.write(to: URL(fileURLWithPath: file))
        let error = #expect(throws: EngineSetupError.self) { try SQLiteBroker(directory: directory, policy: policy) }
        #expect(error?.reason == "\(file) cannot be opened as a Switchboard database (file is not a database); it was left unchanged")
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == garbage)
    }

    @Test func aDatabaseFromANewerSchemaIsRefusedAndLeftUnchanged() async throws {
        let directory = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/switchboard.sqlite"
        do {
            _ = try SQLiteBroker(directory: directory, policy: policy)
            // What a newer server leaves behind: a migration this one does not know.
            let database = try DatabaseQueue(path: file)
            try await database.write { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')") }
            // Everything into the main file, so its bytes tell whether the refused start wrote anything.
            try await database.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
            try database.close()
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: file))
        let error = #expect(throws: EngineSetupError.self) { try SQLiteBroker(directory: directory, policy: policy) }
        #expect(
            error?.reason
                == "\(file) has schema migrations this server does not know (v99-from-the-future): it was written by a newer Switchboard; run that version or use another data directory (the file was left unchanged)"
        )
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == before)
    }

    // MARK: disk full while running

    /// A 2 MiB filesystem of the test's own (root can mount one; elsewhere the test cannot run and says so).
    static let canMountTmpfs: Bool = {
        guard getuid() == 0 else { return false }
        let probe = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: probe) }
        guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe]) else { return false }
        return run("/bin/umount", [probe])
    }()

    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        // Not `waitUntilExit()`: it polls a run loop and, on a Swift concurrency thread, can park for good. The
        // handler is set before `run()`, so a child that exits at once is not missed.
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        guard (try? process.run()) != nil else { return false }
        guard exited.wait(timeout: .now() + 30) == .success else {
            process.terminate()
            return false
        }
        return process.terminationStatus == 0
    }

    @Test(.enabled(if: canMountTmpfs, "needs root to mount a small tmpfs"))
    func aFullDiskAnswersPublishesWithARetryableErrorAndServesAgainOnceSpaceIsFreed() async throws {
        let mountPoint = TemporaryDirectory.make()
        #expect(Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mountPoint]))
        defer {
            Self.run("/bin/umount", ["-l", mountPoint])
            try? FileManager.default.removeItem(atPath: mountPoint)
        }
        let engine = try SQLiteBroker(directory: mountPoint + "/data", policy: { _ in HistoryPolicy(capacity: 100_000, ttl: nil) })
        engine.attach(sink: EngineRecordingSink())
        // Fill the filesystem but for a little room, then publish until it is gone.
        let filler = mountPoint + "/filler"
        #expect(FileManager.default.createFile(atPath: filler, contents: Data(count: 1_500_000)))
        let payload = ByteBuffer(string: "\"" + String(repeating: "x", count: 4_000) + "\"")
        var failure: EngineError?
        var accepted: [UInt64] = []
        for _ in 0..<1_000 {
            do {
                accepted.append(try await engine.publishing(PublishRequest(channel: room, data: payload)).offset)
            } catch let error as EngineError {
                failure = error
                break
            }
        }
        let refusal = try #require(failure)
        #expect(refusal.kind == .unavailable && refusal.isRetryable)
        #expect(refusal.detail == "the disk is full")
        #expect(!engine.isAvailable)
        // Nothing already accepted is lost, and no offset was used by the refused publication.
        #expect(accepted == Array(1...UInt64(accepted.count)))
        await engine.probeWrites()
        #expect(!engine.isAvailable)
        try FileManager.default.removeItem(atPath: filler)
        // What `run()` does every second while unavailable: a write that succeeds makes the engine available again.
        await engine.probeWrites()
        #expect(engine.isAvailable)
        let next = try await engine.publishing(PublishRequest(channel: room, data: ByteBuffer(string: "1")))
        #expect(next.offset == UInt64(accepted.count) + 1)
        #expect(engine.isAvailable)
        #expect(try await engine.history(channel: room, after: 0, limit: 100_000).publications.count == accepted.count + 1)
    }
}

/// Yjs rooms in the SQLite engine (`YjsRoomStore`): the log survives a reopen, in order, with compactions applied.
struct SQLiteYjsRoomStoreTests {
    @Test func aRoomsLogIsStoredInOrderAndCompactionReplacesItsOldestUpdates() async throws {
        let directory = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let engine = try SQLiteBroker(directory: directory, policy: policy, trimInterval: nil)
            #expect(try await engine.loadYjsRoom("docs:a") == [])
            for update: [UInt8] in [[1], [2], [3]] { try await engine.appendYjsUpdate(update, to: "docs:a") }
            try await engine.appendYjsUpdate([9], to: "docs:b")
            try await engine.compactYjsRoom("docs:a", first: 2, into: [12])
            try await engine.appendYjsUpdate([4], to: "docs:a")
            #expect(try await engine.loadYjsRoom("docs:a") == [[12], [3], [4]])
        }
        // Reopened: what was written is read back, each room on its own.
        let engine = try SQLiteBroker(directory: directory, policy: policy, trimInterval: nil)
        #expect(try await engine.loadYjsRoom("docs:a") == [[12], [3], [4]])
        #expect(try await engine.loadYjsRoom("docs:b") == [[9]])
        try await engine.compactYjsRoom("docs:a", first: 3, into: [123])
        #expect(try await engine.loadYjsRoom("docs:a") == [[123]])
    }
}

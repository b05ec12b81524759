import Foundation
import Logging
import NIOConcurrencyHelpers
import PostgresNIO
import SwitchboardBroker
import SwitchboardCore
import SwitchboardPostgres
import Testing

/// The PostgreSQL that tests use: `SWITCHBOARD_TEST_POSTGRES_URL` (scripts/test.sh starts one with
/// scripts/postgres-test-server.sh and exports it). Each test gets a database of its own, so tests are independent and
/// may run in parallel.
///
/// Without the variable the PostgreSQL tests fail, saying how to get one — unless
/// `SWITCHBOARD_TEST_ALLOW_NO_POSTGRES=1`, which leaves them out (quick local runs only).
enum PostgresTestServer {
    static var url: String? {
        guard let url = ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_POSTGRES_URL"], !url.isEmpty else { return nil }
        return url
    }

    static var isSkipped: Bool {
        url == nil && ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_ALLOW_NO_POSTGRES"] == "1"
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "SWITCHBOARD_TEST_POSTGRES_URL is not set: run scripts/test.sh, or `scripts/postgres-test-server.sh start` and export the URL it prints (SWITCHBOARD_TEST_ALLOW_NO_POSTGRES=1 leaves the PostgreSQL tests out)"
        }
    }

    static func requireURL() throws -> String {
        guard let url else { throw Missing() }
        return url
    }

    static let logger: Logger = {
        var logger = Logger(label: "switchboard.test.postgres")
        logger.logLevel = ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_POSTGRES_LOG"] == "1" ? .trace : .critical
        return logger
    }()

    /// `url` with another database name.
    static func url(_ serverURL: String, database: String) -> String {
        var components = URLComponents(string: serverURL)!
        components.path = "/" + database
        return components.string!
    }

    /// Runs `body` on a new connection to `url` (the server's maintenance database unless told).
    static func withConnection<T: Sendable>(
        _ url: String, _ body: @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let settings = try PostgresSettings(url: url)
        let configuration = PostgresConnection.Configuration(
            host: settings.host, port: settings.port, username: settings.username, password: settings.password, database: settings.database,
            tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        do {
            let result = try await body(connection)
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// A new, empty database on the test server; returns its URL.
    static func createDatabase(on serverURL: String? = nil) async throws -> String {
        let serverURL = try serverURL ?? requireURL()
        let name = "sbtest_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        _ = try await withConnection(serverURL) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        return url(serverURL, database: name)
    }

    static func dropDatabase(_ databaseURL: String) async {
        guard let database = URLComponents(string: databaseURL)?.path.dropFirst(), let serverURL = url else { return }
        _ = try? await withConnection(Self.url(serverURL, database: "postgres")) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(database) WITH (FORCE)"), logger: logger)
        }
    }

    /// A node: a ``PostgresBroker`` on `database` with its `run()` in a task, returned once it is available.
    struct RunningNode: Sendable {
        let broker: PostgresBroker
        let run: Task<Void, any Error>
        let database: String

        /// Cancels `run()` and waits for it to end.
        func stop() async {
            run.cancel()
            _ = await run.result
        }

        func stopAndDropDatabase() {
            Task {
                await stop()
                await PostgresTestServer.dropDatabase(database)
            }
        }
    }

    static func startNode(
        database: String, policy: HistoryPolicy = HistoryPolicy(capacity: 100, ttl: nil), shards: Int = 32,
        now: @escaping @Sendable () -> UInt64 = { PostgresBroker.wallClockNanoseconds() }, sink: any PublicationSink,
        waitUntilAvailable: Bool = true
    ) async throws -> RunningNode {
        let settings = try PostgresSettings(url: database, shards: shards, pollInterval: .milliseconds(50))
        var logger = logger
        logger[metadataKey: "node"] = "\(UUID().uuidString.prefix(6))"
        let broker = PostgresBroker(
            settings: settings, policy: { _ in policy }, defaultPolicy: policy, now: now, trimInterval: nil, retentionGrace: 0,
            heartbeatInterval: nil,
            logger: logger)
        broker.attach(sink: sink)
        let run = Task { try await broker.run() }
        let node = RunningNode(broker: broker, run: run, database: database)
        if waitUntilAvailable {
            // Generous: with the whole suite running side by side on two cores a node's first connections can queue.
            let started = await DeadlineBroker.run("start", timeout: .seconds(60)) { await broker.waitUntilAvailable() }
            guard case .success = started else {
                await node.stop()
                if case .failure(let error) = await run.result { throw error }
                throw EngineError(.unavailable, operation: "start", detail: "the node did not become available within 60 s")
            }
        }
        return node
    }
}

/// A PostgreSQL of its own for a test that stops and starts it (scripts/postgres-test-server.sh), removed by ``remove()``.
struct PrivatePostgresServer {
    let directory: String
    let url: String

    private static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/postgres-test-server.sh").path
    }

    /// Runs the script through `system(3)` with its output in a file: the PostgreSQL server it starts inherits the
    /// script's descriptors, so a pipe would stay open (and a reader waiting for its end would wait for the server).
    @discardableResult
    private static func run(_ arguments: [String]) throws -> String {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("postgres-test-server-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let command = (["/bin/bash", script] + arguments).map { "'\($0)'" }.joined(separator: " ") + " > '\(outputPath)' 2>/dev/null < /dev/null"
        guard system(command) == 0 else {
            throw EngineError(.internal, operation: "postgres-test-server.sh \(arguments.joined(separator: " "))", detail: "failed")
        }
        return (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    }

    static func start() throws -> PrivatePostgresServer {
        let lines = try run(["start"]).split(separator: "\n").map(String.init)
        guard lines.count >= 2 else { throw EngineError(.internal, operation: "postgres-test-server.sh start", detail: "no URL printed") }
        return PrivatePostgresServer(directory: lines[0], url: lines[1])
    }

    func stop() throws { try Self.run(["stop", directory]) }
    func startAgain() throws { try Self.run(["start-again", directory]) }
    func remove() { _ = try? Self.run(["remove", directory]) }
}

extension EngineRecordingSink {
    /// Waits (at most `timeout`) until `channel` has `count` deliveries; false on timeout.
    func waitForDeliveries(_ count: Int, on channel: ChannelName, timeout: Duration = .seconds(20)) async -> Bool {
        let result = await DeadlineBroker.run("wait", timeout: timeout) {
            await self.waitUntil { $0.filter { $0.channel == channel }.count >= count }
        }
        if case .success = result { return true }
        return false
    }
}

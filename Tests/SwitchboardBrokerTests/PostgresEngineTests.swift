import Foundation
import NIOCore
import PostgresNIO
import SwitchboardBroker
import SwitchboardCore
import SwitchboardPostgres
import Testing

private let room = try! ChannelName(validating: "chat:room")
private let lobby = try! ChannelName(validating: "chat:lobby")

private func request(_ n: Int, idempotencyKey: String? = nil) -> PublishRequest {
    PublishRequest(channel: room, data: ByteBuffer(string: #"{"n":\#(n)}"#), idempotencyKey: idempotencyKey)
}

/// Two ``PostgresBroker``s on one database are two nodes of a cluster (docs/engines.md, "The PostgreSQL engine").
@Suite(.enabled(if: !PostgresTestServer.isSkipped, "SWITCHBOARD_TEST_ALLOW_NO_POSTGRES=1 and no test server"))
struct PostgresEngineTests {
    /// Two nodes on a new database, run until `body` returns.
    private func withTwoNodes(
        policy: HistoryPolicy = HistoryPolicy(capacity: 1000, ttl: nil, idempotencyRetention: .seconds(60)),
        _ body: (PostgresTestServer.RunningNode, EngineRecordingSink, PostgresTestServer.RunningNode, EngineRecordingSink) async throws -> Void
    ) async throws {
        let database = try await PostgresTestServer.createDatabase()
        let sinkA = EngineRecordingSink()
        let sinkB = EngineRecordingSink()
        let a = try await PostgresTestServer.startNode(database: database, policy: policy, sink: sinkA)
        let b = try await PostgresTestServer.startNode(database: database, policy: policy, sink: sinkB)
        do {
            try await body(a, sinkA, b, sinkB)
        } catch {
            await a.stop()
            b.stopAndDropDatabase()
            throw error
        }
        await a.stop()
        b.stopAndDropDatabase()
    }

    /// Polls `sink`'s events (an observable condition) until `predicate` holds; fails after 10 s.
    private func waitForEvents(_ sink: EngineRecordingSink, _ predicate: ([EphemeralEvent]) -> Bool) async throws {
        try await waitFor("events", { sink.events }, predicate, describe: { $0.map { String(buffer: $0.push) } })
    }

    /// Polls `read()` until `predicate` holds; records an issue naming `what` after 10 s.
    private func waitFor<Value>(
        _ what: String, _ read: () -> Value, _ predicate: (Value) -> Bool, describe: (Value) -> any CustomStringConvertible = { "\($0)" }
    ) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !predicate(read()) {
            guard ContinuousClock.now < deadline else {
                Issue.record("\(what) never arrived: \(describe(read()))")
                return
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test func aSignalOnOneNodeReachesTheSubscribersOfEveryNodeOnce() async throws {
        try await withTwoNodes { a, sinkA, b, sinkB in
            let event = EphemeralEvent.signal(channel: room, type: "typing", client: "c1", user: "alice", data: ByteBuffer(string: #"{"on":true}"#))
            try await a.broker.signal(event)
            try await waitForEvents(sinkB) { $0.count == 1 }
            #expect(sinkB.events.map { String(buffer: $0.push) } == [String(buffer: event.push)])
            #expect(sinkB.events.first?.kind == .signal)
            #expect(sinkB.events.first?.channel == room)
            // The sending node delivered it once, itself, and skips its own NOTIFY.
            try await b.broker.signal(EphemeralEvent.signal(channel: room, type: "typing", client: "c2", user: nil, data: nil))
            try await waitForEvents(sinkA) { $0.count == 2 }
            try await waitForEvents(sinkB) { $0.count == 2 }
            #expect(sinkA.events.count == 2)
        }
    }

    @Test func aReceiptEventReachesThePublisherOnAnotherNode() async throws {
        try await withTwoNodes { a, sinkA, b, sinkB in
            let published = try await a.broker.publishing(
                PublishRequest(channel: room, data: ByteBuffer(string: "1"), sender: "alice", receipts: true))
            // Bob on node B reads it; Alice's sessions are on node A.
            #expect(try await b.broker.acknowledge(channel: room, offset: published.offset, user: "bob", status: .read))
            try await waitForEvents(sinkA) { events in events.contains { $0.kind == .receipt } }
            let receipt = try #require(sinkA.events.first { $0.kind == .receipt })
            #expect(receipt.targetUser == "alice")
            #expect(String(buffer: receipt.push).contains(#""user":"bob""#))
            #expect(sinkB.events.filter { $0.kind == .receipt }.count == 1)
        }
    }

    @Test func whatIsNotAnEventOnTheEventsChannelIsIgnored() async throws {
        try await withTwoNodes { a, sinkA, b, sinkB in
            try await PostgresTestServer.withConnection(a.database) { connection in
                for payload in ["", "not json", #"{"o":"x","c":"bad channel!","k":"signal","p":{}}"#, #"{"o":"x","c":"room","k":"nope","p":{}}"#] {
                    _ = try await connection.query("SELECT pg_notify('switchboard_events', \(payload))", logger: PostgresTestServer.logger)
                }
            }
            try await a.broker.signal(EphemeralEvent.signal(channel: room, type: "after", client: "c1", user: nil, data: nil))
            try await waitForEvents(sinkB) { $0.count == 1 }
            #expect(String(buffer: sinkB.events[0].push).contains(#""type":"after""#))
            #expect(sinkA.events.count == 1)
        }
    }

    /// Polls `sink`'s operators' orders until `predicate` holds; fails after 10 s.
    private func waitForControls(_ sink: EngineRecordingSink, _ predicate: ([ControlCommand]) -> Bool) async throws {
        try await waitFor("orders", { sink.controls }, predicate)
    }

    @Test func anOperatorsOrderOnOneNodeReachesTheOtherNodesInOrder() async throws {
        try await withTwoNodes { a, sinkA, b, sinkB in
            let until = Int64(Date().timeIntervalSince1970) + 3600
            let orders: [ControlCommand] = [
                .disconnectUser("alice", reconnect: true), .disconnectClient("c-1", reconnect: false), .revokeToken("t-1", until: until),
            ]
            for order in orders { try await a.broker.broadcast(order) }
            try await waitForControls(sinkB) { $0.count == 3 }
            #expect(sinkB.controls == orders)
            // The sending node applied it itself: it skips its own NOTIFY (the revocation it loaded at start was none).
            try await b.broker.broadcast(.disconnectUser("bob", reconnect: true))
            try await waitForControls(sinkA) { $0.count == 1 }
            #expect(sinkA.controls == [.disconnectUser("bob", reconnect: true)])
        }
    }

    @Test func aRevocationReachesANodeThatStartsLaterUntilItExpires() async throws {
        try await withTwoNodes { a, _, _, _ in
            let now = Int64(Date().timeIntervalSince1970)
            try await a.broker.broadcast(.revokeToken("t-live", until: now + 3600))
            try await a.broker.broadcast(.revokeToken("t-live", until: now + 60))  // a shorter one keeps the longer
            try await a.broker.broadcast(.revokeToken("t-over", until: now - 1))
            let sinkC = EngineRecordingSink()
            let c = try await PostgresTestServer.startNode(database: a.database, sink: sinkC)
            #expect(sinkC.controls == [.revokeToken("t-live", until: now + 3600)])
            await c.stop()
        }
    }

    @Test func whatIsNotAnOrderOnTheEventsChannelIsIgnored() async throws {
        try await withTwoNodes { a, _, _, sinkB in
            try await PostgresTestServer.withConnection(a.database) { connection in
                for payload in [
                    #"{"o":"x","x":"disconnect_user","i":"u"}"#, #"{"o":"x","x":"disconnect_user","i":"","r":true}"#,
                    #"{"o":"x","x":"nope","i":"u","r":true}"#, #"{"o":"x","x":"revoke_token","i":"t"}"#,
                    #"{"o":"x","x":"revoke_token","i":"t","u":"soon"}"#, #"{"x":"disconnect_client","i":"c","r":false}"#,
                ] {
                    _ = try await connection.query("SELECT pg_notify('switchboard_events', \(payload))", logger: PostgresTestServer.logger)
                }
            }
            try await a.broker.broadcast(.disconnectClient("after", reconnect: false))
            try await waitForControls(sinkB) { $0.count == 1 }
            #expect(sinkB.controls == [.disconnectClient("after", reconnect: false)])
            #expect(sinkB.events.isEmpty)
        }
    }

    private func member(_ client: String, _ user: String?, _ info: String? = nil) -> PresenceMember {
        PresenceMember(client: client, user: user, info: info.map { ByteBuffer(string: $0) })
    }

    private func pushes(_ sink: EngineRecordingSink, _ kind: EphemeralEvent.Kind) -> [String] {
        sink.events.filter { $0.kind == kind }.map { String(buffer: $0.push) }
    }

    @Test func presenceIsSharedByTheNodesAndItsChangesAreAnnouncedOnEach() async throws {
        try await withTwoNodes { a, sinkA, b, sinkB in
            #expect(try await a.broker.presenceJoin(member("c1", "alice", #"{"n":1}"#), channel: room, announce: true))
            #expect(try await b.broker.presenceJoin(member("c2", "bob"), channel: room, announce: true))
            #expect(try await !a.broker.presenceJoin(member("c1", "alice"), channel: room, announce: true), "already present")
            let page = try await b.broker.presence(channel: room, after: nil, limit: 10)
            #expect(page.members.map(\.client) == ["c1", "c2"])
            #expect(page.counts == PresenceCounts(clients: 2, users: 2))
            #expect(page.members.first.flatMap { $0.info.map { String(buffer: $0) } } == #"{"n":1}"#)
            try await waitForEvents(sinkB) { $0.filter { $0.kind == .join }.count == 2 }
            try await waitForEvents(sinkA) { $0.filter { $0.kind == .join }.count == 2 }
            #expect(try await a.broker.presenceUpdate(client: "c1", info: ByteBuffer(string: #"{"n":2}"#), channel: room, announce: true))
            try await waitForEvents(sinkB) { $0.contains { $0.kind == .presenceUpdate } }
            #expect(pushes(sinkB, .presenceUpdate).first?.contains(#""info":{"n":2}"#) == true)
            try await a.broker.presenceLeave(client: "c1", channel: room, announce: true)
            try await waitForEvents(sinkB) { $0.contains { $0.kind == .leave } }
            #expect(try await b.broker.presence(channel: room, after: nil, limit: 1).members.map(\.client) == ["c2"])
            // Receipt records name the users present on every node.
            let published = try await a.broker.publishing(
                PublishRequest(channel: room, data: ByteBuffer(string: "1"), sender: "carol", receipts: true))
            #expect(try await a.broker.receipts(channel: room, offset: published.offset)?.recipients.keys.sorted() == ["bob"])
        }
    }

    @Test func theMembersOfANodeThatStoppedAnsweringLeaveForEveryNode() async throws {
        try await withTwoNodes { a, sinkA, b, sinkB in
            _ = try await a.broker.presenceJoin(member("c1", "alice"), channel: room, announce: true)
            _ = try await a.broker.presenceJoin(member("c3", nil), channel: lobby, announce: false)
            try await a.broker.heartbeat()
            try await b.broker.heartbeat()
            try await waitForEvents(sinkB) { $0.contains { $0.kind == .join } }
            // Node A is silent for longer than the node timeout (as if killed).
            try await PostgresTestServer.withConnection(a.database) { connection in
                _ = try await connection.query("UPDATE switchboard_nodes SET seen_at = 0 WHERE seen_at > 0", logger: PostgresTestServer.logger)
            }
            try await b.broker.heartbeat()
            try await waitForEvents(sinkB) { $0.contains { $0.kind == .leave } }
            #expect(pushes(sinkB, .leave).count == 1, "the lobby's member was not announced")
            #expect(try await b.broker.presence(channel: room, after: nil, limit: 10).members.isEmpty)
            #expect(try await b.broker.presence(channel: lobby, after: nil, limit: 10).members.isEmpty)
            // Node A was only cut off: its next heartbeat puts its members back and announces them again.
            try await a.broker.heartbeat()
            try await waitForEvents(sinkB) { $0.filter { $0.kind == .join }.count == 2 }
            #expect(try await b.broker.presence(channel: room, after: nil, limit: 10).members.map(\.client) == ["c1"])
            #expect(try await b.broker.presence(channel: lobby, after: nil, limit: 10).members.map(\.client) == ["c3"])
            _ = sinkA
        }
    }

    @Test func aPublicationOnOneNodeIsDeliveredByTheOtherNodeInOffsetOrder() async throws {
        try await withTwoNodes { a, sinkA, b, sinkB in
            for n in 1...20 { _ = try await a.broker.publish(request(n)) }
            #expect(await sinkB.waitForDeliveries(20, on: room))
            #expect(sinkB.offsets(on: room) == Array(1...20))
            #expect(sinkB.publications.map { String(buffer: $0.data) } == (1...20).map { #"{"n":\#($0)}"# })
            #expect(sinkA.offsets(on: room) == Array(1...20))
            #expect(Set(sinkB.publications.map(\.epoch)) == Set(sinkA.publications.map(\.epoch)))
        }
    }

    @Test func concurrentPublishersOnTwoNodesGetGaplessOffsetsAndBothNodesDeliverTheSameOrder() async throws {
        try await withTwoNodes { a, sinkA, b, sinkB in
            let offsets = try await withThrowingTaskGroup(of: [UInt64].self) { group in
                for task in 0..<8 {
                    let node = task % 2 == 0 ? a : b
                    group.addTask {
                        var offsets: [UInt64] = []
                        for n in 0..<25 { offsets.append(try await node.broker.publishing(request(task * 25 + n)).offset) }
                        return offsets
                    }
                }
                return try await group.reduce(into: [UInt64]()) { $0 += $1 }
            }
            #expect(offsets.sorted() == Array(1...200))
            #expect(await sinkA.waitForDeliveries(200, on: room))
            #expect(await sinkB.waitForDeliveries(200, on: room))
            #expect(sinkA.offsets(on: room) == Array(1...200))
            #expect(sinkB.offsets(on: room) == Array(1...200))
            #expect(sinkA.publications.map { String(buffer: $0.data) } == sinkB.publications.map { String(buffer: $0.data) })
        }
    }

    @Test func anIdempotencyKeyUsedOnOneNodeIsADuplicateOnTheOther() async throws {
        try await withTwoNodes { a, _, b, _ in
            let original = try await a.broker.publish(request(1, idempotencyKey: "k"))
            let retry = try await b.broker.publish(request(1, idempotencyKey: "k"))
            #expect(!original.isDuplicate && retry.isDuplicate)
            #expect(retry.publication.position == original.publication.position)
        }
    }

    /// `switchboard_publish` takes exactly the channel names the server takes: a name every node would skip is an
    /// error in the caller's transaction (SQLSTATE 22023), not an offset no subscriber ever receives.
    @Test func transactionalPublishRefusesTheChannelNamesTheServerRefuses() async throws {
        let names = [
            "chat:room", "room", "ns_1-x:a.b@c=d:e", "a:b:c", String(repeating: "x", count: 255), "Chat:room", "a/b", "room name", "",
            ":a", "chat:", "x:", "é", String(repeating: "x", count: 256), "\(String(repeating: "n", count: 33)):a", "-ns:a",
        ]
        try await withTwoNodes { a, _, _, _ in
            try await PostgresTestServer.withConnection(a.database) { connection in
                for name in names {
                    let acceptedByServer = (try? ChannelName(validating: name)) != nil
                    var acceptedBySQL = true
                    do {
                        _ = try await connection.query(
                            "SELECT switchboard_publish(\(name), '{}'::jsonb)", logger: PostgresTestServer.logger
                        ).collect()
                    } catch let error as PSQLError {
                        acceptedBySQL = false
                        let expected = name.isEmpty ? "22004" : "22023"
                        #expect(error.serverInfo?[.sqlState] == expected, "\(name): \(String(reflecting: error))")
                    }
                    #expect(acceptedBySQL == acceptedByServer, "'\(name)'")
                }
            }
        }
    }

    @Test func transactionalPublishRolledBackPublishesNothingAndCommittedIsDeliveredOnEveryNodeInOrder() async throws {
        try await withTwoNodes { a, sinkA, b, sinkB in
            try await PostgresTestServer.withConnection(a.database) { connection in
                try await connection.query("BEGIN", logger: PostgresTestServer.logger)
                try await connection.query(#"SELECT switchboard_publish('chat:room', '{"n":"rolled back"}')"#, logger: PostgresTestServer.logger)
                try await connection.query("ROLLBACK", logger: PostgresTestServer.logger)
                try await connection.query("BEGIN", logger: PostgresTestServer.logger)
                let offset = try await connection.query(
                    #"SELECT switchboard_publish('chat:room', '{"n": "committed"}')"#, logger: PostgresTestServer.logger
                ).collect().first?.decode(Int64.self)
                #expect(offset == 1)
                try await connection.query("COMMIT", logger: PostgresTestServer.logger)
            }
            let next = try await a.broker.publishing(request(2))
            #expect(next.offset == 2)
            for sink in [sinkA, sinkB] {
                #expect(await sink.waitForDeliveries(2, on: room))
                #expect(sink.offsets(on: room) == [1, 2])
                // jsonb's text form: valid JSON on one line.
                #expect(sink.publications.map { String(buffer: $0.data) } == [#"{"n": "committed"}"#, #"{"n":2}"#])
            }
            #expect(try await b.broker.history(channel: room, after: 0, limit: 10).publications.map(\.offset) == [1, 2])
        }
    }

    @Test func aNodeWhoseReaderLostItsConnectionResumesFromItsCursor() async throws {
        try await withTwoNodes { a, _, b, sinkB in
            for n in 1...5 { _ = try await a.broker.publish(request(n)) }
            #expect(await sinkB.waitForDeliveries(5, on: room))
            // Every node's reader connection is cut; publications keep coming from another connection meanwhile.
            try await PostgresTestServer.withConnection(a.database) { connection in
                try await connection.query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'switchboard-reader' AND datname = current_database()",
                    logger: PostgresTestServer.logger)
                for n in 6...15 {
                    try await connection.query(
                        PostgresQuery(unsafeSQL: #"SELECT switchboard_publish('chat:room', '{"n":\#(n)}')"#), logger: PostgresTestServer.logger)
                }
            }
            #expect(await sinkB.waitForDeliveries(15, on: room))
            #expect(sinkB.offsets(on: room) == Array(1...15))
            await b.broker.waitUntilAvailable()
            #expect(try await b.broker.publishing(request(16)).offset == 16)
        }
    }

    @Test func aChangedDatabaseIdentityGivesEveryChannelANewEpoch() async throws {
        try await withTwoNodes { a, _, _, _ in
            let before = try await a.broker.publishing(request(1))
            // As after a failover to a standby that may have lost the tail: another system identifier or timeline.
            _ = try await PostgresTestServer.withConnection(a.database) { connection in
                try await connection.query(
                    "UPDATE switchboard_meta SET value = 'another-database/2' WHERE key = 'database_identity'", logger: PostgresTestServer.logger)
            }
            let sinkC = EngineRecordingSink()
            let c = try await PostgresTestServer.startNode(database: a.database, policy: HistoryPolicy(capacity: 1000, ttl: nil), sink: sinkC)
            defer { Task { await c.stop() } }
            #expect(c.broker.epochRotations == 1)
            let recovery = try await c.broker.recover(channel: room, since: before.position, limit: 100)
            #expect(recovery.outcome == .reset(.epochChanged))
            let after = try await c.broker.publishing(request(2))
            #expect(after.epoch != before.epoch)
            #expect(after.offset == 2)
        }
    }

    @Test func aNodeWithAnotherShardCountIsRefusedWithTheKeyToFix() async throws {
        let database = try await PostgresTestServer.createDatabase()
        let first = try await PostgresTestServer.startNode(database: database, shards: 32, sink: EngineRecordingSink())
        defer { first.stopAndDropDatabase() }
        let second = try await PostgresTestServer.startNode(database: database, shards: 8, sink: EngineRecordingSink(), waitUntilAvailable: false)
        let outcome = await second.run.result
        guard case .failure(let error as EngineSetupError) = outcome else {
            Issue.record("expected a setup error, got \(outcome)")
            return
        }
        #expect(error.key == "engine.postgres.shards")
        #expect(error.reason == "the database was set up with 32 shards and every node must use that number (this one has 8)")
    }

    @Test func whileTheDatabaseIsStoppedCallsFailAsUnavailableAndAfterItRestartsNothingAnsweredIsLost() async throws {
        let server = try PrivatePostgresServer.start()
        defer { server.remove() }
        let database = try await PostgresTestServer.createDatabase(on: server.url)
        let policy = HistoryPolicy(capacity: 1000, ttl: nil)
        let sinkA = EngineRecordingSink()
        let sinkB = EngineRecordingSink()
        let a = try await PostgresTestServer.startNode(database: database, policy: policy, sink: sinkA)
        let b = try await PostgresTestServer.startNode(database: database, policy: policy, sink: sinkB)
        var answered: [UInt64] = []
        for n in 1...5 { answered.append(try await a.broker.publishing(request(n)).offset) }

        try server.stop()
        await a.broker.waitUntilAvailable(false)
        #expect(!a.broker.isAvailable)
        do {
            _ = try await a.broker.publish(request(6))
            Issue.record("a publish while the database is stopped succeeded")
        } catch let error as EngineError {
            #expect(error.kind == .unavailable)
            #expect(error.isRetryable)
        }
        // Through the deadline wrapper the server uses: the same retryable answer (HTTP 503), not a timeout.
        let wrapped = DeadlineBroker(a.broker, timeout: .seconds(5))
        await #expect(throws: EngineError(.unavailable, operation: "publish", detail: "the database is unreachable")) {
            try await wrapped.publish(request(6))
        }

        try server.startAgain()
        await a.broker.waitUntilAvailable()
        await b.broker.waitUntilAvailable()
        for n in 6...10 { answered.append(try await a.broker.publishing(request(n)).offset) }
        #expect(answered == Array(1...10))
        #expect(await sinkB.waitForDeliveries(10, on: room))
        #expect(sinkB.offsets(on: room) == Array(1...10))
        #expect(sinkA.offsets(on: room) == Array(1...10))
        await a.stop()
        await b.stop()
    }

    @Test func aBadURLIsRefusedNamingTheKey() {
        for (url, reason) in [
            ("", "set the PostgreSQL URL, e.g. postgres://user:password@host:5432/database"),
            ("mysql://u@h/d", "expected postgres://user:password@host:port/database"),
            ("postgres://u@h", "the URL names no database (…/DATABASE)"),
            ("postgres://h/d", "the URL names no user"),
            ("postgres://u@h/d?sslmode=verify-full", "sslmode must be disable, prefer or require"),
            ("postgres://u@h/d?pool=3", "unknown URL parameter pool (known: sslmode)"),
        ] {
            #expect(throws: EngineSetupError.self) { try PostgresSettings(url: url) }
            do {
                _ = try PostgresSettings(url: url)
            } catch {
                #expect(error.key == "engine.postgres.url")
                #expect(error.reason == reason)
            }
        }
        let settings = try? PostgresSettings(url: "postgres://sb:p%40ss@db.example:6432/switchboard?sslmode=require")
        #expect(settings?.host == "db.example" && settings?.port == 6432 && settings?.username == "sb")
        #expect(settings?.password == "p@ss" && settings?.database == "switchboard" && settings?.tlsMode == .require)
    }
}

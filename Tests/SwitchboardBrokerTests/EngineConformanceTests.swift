import Foundation
import NIOConcurrencyHelpers
import NIOCore
import SwitchboardBroker
import SwitchboardCore
import SwitchboardPostgres
import SwitchboardSQLite
import Testing

/// The contract every engine keeps (docs/engines.md), proven once per engine.
enum EngineKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory, sqlite, postgres

    var testDescription: String { rawValue }

    /// Every engine; `postgres` is left out only when `SWITCHBOARD_TEST_ALLOW_NO_POSTGRES=1` and no test server is
    /// set (quick local runs). Otherwise a missing `SWITCHBOARD_TEST_POSTGRES_URL` fails its tests.
    static var underTest: [EngineKind] {
        PostgresTestServer.isSkipped ? [.memory, .sqlite] : allCases
    }
}

/// An engine made for one test, with what the test needs to drive it: a hand-moved clock and, for durable engines,
/// its data directory (removed with ``close()``).
struct EngineUnderTest {
    let kind: EngineKind
    let broker: any Broker
    let clock: TestClock
    let sink: EngineRecordingSink
    let directory: String?
    /// The PostgreSQL engine's running `run()` and its database, dropped by ``close()``.
    var postgres: PostgresTestServer.RunningNode? = nil

    static func make(
        _ kind: EngineKind, capacity: Int = 100, ttl: Duration? = nil, idempotency: Duration = .zero, keyCapacity: Int = 10_000,
        clock: TestClock = TestClock(),
        sink: EngineRecordingSink = EngineRecordingSink(), directory: String? = nil
    ) async throws -> EngineUnderTest {
        let policy = HistoryPolicy(capacity: capacity, ttl: ttl, idempotencyRetention: idempotency, idempotencyCapacity: keyCapacity)
        switch kind {
        case .memory:
            let broker = MemoryBroker(policy: { _ in policy }, now: { clock.now }, sweepInterval: nil)
            broker.attach(sink: sink)
            return EngineUnderTest(kind: kind, broker: broker, clock: clock, sink: sink, directory: nil)
        case .sqlite:
            let directory = directory ?? TemporaryDirectory.make()
            let broker = try SQLiteBroker(directory: directory, policy: { _ in policy }, now: { clock.now }, trimInterval: nil)
            broker.attach(sink: sink)
            return EngineUnderTest(kind: kind, broker: broker, clock: clock, sink: sink, directory: directory)
        case .postgres:
            let database = try await PostgresTestServer.createDatabase()
            let node = try await PostgresTestServer.startNode(database: database, policy: policy, now: { clock.now }, sink: sink)
            return EngineUnderTest(kind: kind, broker: node.broker, clock: clock, sink: sink, directory: nil, postgres: node)
        }
    }

    /// Forgets what expired and idle channels, the way each engine's own background work does.
    func sweep() async throws {
        switch broker {
        case let memory as MemoryBroker: memory.reclaimIdleChannels()
        case let sqlite as SQLiteBroker: try await sqlite.trim()
        case let postgres as PostgresBroker: try await postgres.trim()
        default: Issue.record("no sweep for \(type(of: broker))")
        }
    }

    func close() {
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
        postgres?.stopAndDropDatabase()
    }
}

enum TemporaryDirectory {
    static func make() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-test-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// A clock the test moves by hand, in nanoseconds.
final class TestClock: Sendable {
    private let box = NIOLockedValueBox<UInt64>(1_000_000_000_000)

    var now: UInt64 { box.withLockedValue { $0 } }
    func advance(by nanoseconds: UInt64) { box.withLockedValue { $0 += nanoseconds } }
}

/// Records deliveries in order; says a channel has subscribers when the test says so.
final class EngineRecordingSink: PublicationSink {
    private let publicationsBox = NIOLockedValueBox<[Publication]>([])
    private let eventsBox = NIOLockedValueBox<[EphemeralEvent]>([])
    let subscribed = NIOLockedValueBox<Set<ChannelName>>([])

    private let waiters = NIOLockedValueBox<[(predicate: @Sendable ([Publication]) -> Bool, continuation: CheckedContinuation<Void, Never>)]>([])

    func deliver(_ publication: Publication) {
        let publications = publicationsBox.withLockedValue { publications in
            publications.append(publication)
            return publications
        }
        let ready = waiters.withLockedValue { waiters -> [CheckedContinuation<Void, Never>] in
            var ready: [CheckedContinuation<Void, Never>] = []
            waiters.removeAll { waiter in
                guard waiter.predicate(publications) else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// Returns once the deliveries so far satisfy `predicate` (checked at every delivery; callers add a deadline).
    func waitUntil(_ predicate: @escaping @Sendable ([Publication]) -> Bool) async {
        await withCheckedContinuation { continuation in
            let now = waiters.withLockedValue { waiters -> Bool in
                // Checked under the waiters' lock: a delivery in between runs the check after the waiter is in.
                if predicate(publications) { return true }
                waiters.append((predicate, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }
    func deliver(event: EphemeralEvent) { eventsBox.withLockedValue { $0.append(event) } }
    private let controlsBox = NIOLockedValueBox<[ControlCommand]>([])
    func apply(control command: ControlCommand) { controlsBox.withLockedValue { $0.append(command) } }
    var controls: [ControlCommand] { controlsBox.withLockedValue { $0 } }
    func hasSubscribers(_ channel: ChannelName) -> Bool { subscribed.withLockedValue { $0.contains(channel) } }

    var publications: [Publication] { publicationsBox.withLockedValue { $0 } }
    var events: [EphemeralEvent] { eventsBox.withLockedValue { $0 } }
    func offsets(on channel: ChannelName) -> [UInt64] { publications.filter { $0.channel == channel }.map(\.offset) }
}

private let second: UInt64 = 1_000_000_000
private let room = try! ChannelName(validating: "chat:room")
private let lobby = try! ChannelName(validating: "chat:lobby")

private func request(_ channel: ChannelName, _ n: Int, idempotencyKey: String? = nil, receipts: Bool = false, sender: String? = nil)
    -> PublishRequest
{
    PublishRequest(
        channel: channel, data: ByteBuffer(string: #"{"n":\#(n)}"#), sender: sender, idempotencyKey: idempotencyKey, receipts: receipts)
}

@Suite struct EngineConformanceTests {
    // MARK: positions and order

    @Test(arguments: EngineKind.underTest)
    func offsetsStartAtOneAndIncreaseByOnePerChannel(_ kind: EngineKind) async throws {
        let engine = try await EngineUnderTest.make(kind)
        defer { engine.close() }
        #expect(try await engine.broker.publishing(request(room, 1)).offset == 1)
        #expect(try await engine.broker.publishing(request(room, 2)).offset == 2)
        #expect(try await engine.broker.publishing(request(lobby, 1)).offset == 1)
        #expect(try await engine.broker.publishing(request(room, 3)).offset == 3)
        #expect(engine.sink.offsets(on: room) == [1, 2, 3])
    }

    @Test(arguments: EngineKind.underTest)
    func aStoredPublicationKeepsEveryFieldOfItsRequest(_ kind: EngineKind) async throws {
        let engine = try await EngineUnderTest.make(kind)
        defer { engine.close() }
        let sent = PublishRequest(
            channel: room, data: ByteBuffer(string: #"{"text":"hé"}"#), sender: "alice", idempotencyKey: "k1", key: "AAPL",
            highPriority: true, receipts: true)
        _ = try await engine.broker.publish(sent)
        let stored = try #require(try await engine.broker.history(channel: room, after: 0, limit: 10).publications.first)
        #expect(String(buffer: stored.data) == #"{"text":"hé"}"#)
        #expect(stored.sender == "alice")
        #expect(stored.idempotencyKey == "k1")
        #expect(stored.key == "AAPL")
        #expect(stored.highPriority)
        #expect(stored.receipts)
        #expect(stored.channel == room)
    }

    @Test(arguments: EngineKind.underTest)
    func concurrentPublishersToOneChannelNeverReuseOrSkipAnOffsetAndDeliveryIsInOrder(_ kind: EngineKind) async throws {
        let engine = try await EngineUnderTest.make(kind, capacity: 1000)
        defer { engine.close() }
        let offsets = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for task in 0..<8 {
                group.addTask {
                    var offsets: [UInt64] = []
                    for n in 0..<50 { offsets.append(try await engine.broker.publishing(request(room, task * 50 + n)).offset) }
                    return offsets
                }
            }
            return try await group.reduce(into: [UInt64]()) { $0 += $1 }
        }
        #expect(offsets.sorted() == Array(1...400))
        #expect(engine.sink.offsets(on: room) == Array(1...400))
    }

    @Test(arguments: EngineKind.underTest)
    func aBatchPublishesInItsOrderAsOneByOneWouldWithDuplicatesMarked(_ kind: EngineKind) async throws {
        let engine = try await EngineUnderTest.make(kind, idempotency: .seconds(60))
        defer { engine.close() }
        _ = try await engine.broker.publishing(request(room, 0))
        let results = await engine.broker.publish(batch: [
            request(room, 1), request(lobby, 1), request(room, 2, idempotencyKey: "k"), request(room, 3, idempotencyKey: "k"),
        ])
        let published = try results.map { try $0.get() }
        #expect(published.map(\.publication.offset) == [2, 1, 3, 3])
        #expect(published.map(\.isDuplicate) == [false, false, false, true])
        #expect(engine.sink.offsets(on: room) == [1, 2, 3])
        #expect(engine.sink.offsets(on: lobby) == [1])
        #expect(try await engine.broker.publishing(request(room, 4)).offset == 4)
    }

    // MARK: recovery

    @Test(arguments: EngineKind.underTest)
    func recoveryReturnsExactlyThePublicationsAfterThePosition(_ kind: EngineKind) async throws {
        let engine = try await EngineUnderTest.make(kind)
        defer { engine.close() }
        var publications: [Publication] = []
        for n in 1...5 { publications.append(try await engine.broker.publishing(request(room, n))) }
        let recovery = try await engine.broker.recover(channel: room, since: publications[1].position, limit: 100)
        #expect(recovery.outcome == .recovered)
        #expect(recovery.publications.map(\.offset) == [3, 4, 5])
        #expect(recovery.publications.map { String(buffer: $0.data) } == [#"{"n":3}"#, #"{"n":4}"#, #"{"n":5}"#])
        #expect(recovery.position == publications[4].position)
        let upToDate = try await engine.broker.recover(channel: room, since: publications[4].position, limit: 100)
        #expect(upToDate.outcome == .recovered && upToDate.publications.isEmpty)
    }

    @Test(arguments: EngineKind.underTest)
    func recoveryWithoutAPositionIsFreshAtTheCurrentPosition(_ kind: EngineKind) async throws {
        let engine = try await EngineUnderTest.make(kind)
        defer { engine.close() }
        let last = try await engine.broker.publishing(request(room, 1))
        let recovery = try await engine.broker.recover(channel: room, since: nil, limit: 100)
        #expect(recovery.outcome == .fresh)
        #expect(recovery.position == last.position)
    }

    @Test(arguments: EngineKind.underTest)
    func anUnusedChannelReadsAtOffsetZeroAndItsFirstPublicationContinuesThatPosition(_ kind: EngineKind) async throws {
        let engine = try await EngineUnderTest.make(kind)
        defer { engine.close() }
        let empty = try await engine.broker.recover(channel: room, since: nil, limit: 100)
        #expect(empty.position.offset == 0)
        let first = try await engine.broker.publishing(request(room, 1))
        let recovery = try await engine.broker.recover(channel: room, since: empty.position, limit: 100)
        #expect(first.epoch == empty.position.epoch)
        #expect(recovery.outcome == .recovered && recovery.publications.map(\.offset) == [1])
    }

    @Test(arguments: EngineKind.underTest)
    func theRecoveryWindowEdgesResetWithTheirReason(_ kind: EngineKind) async throws {
        let engine = try await EngineUnderTest.make(kind, capacity: 5)
        defer { engine.close() }
        var last: Publication?
        for n in 1...10 { last = try await engine.broker.publishing(request(room, n)) }
        let epoch = try #require(last).epoch
        // Offsets 6…10 are held: since 5 is exactly the window's edge, since 4 is one beyond it.
        let edge = try await engine.broker.recover(channel: room, since: StreamPosition(epoch: epoch, offset: 5), limit: 100)
        #expect(edge.outcome == .recovered && edge.publications.map(\.offset) == [6, 7, 8, 9, 10])
        let beyond = try await engine.broker.recover(channel: room, since: StreamPosition(epoch: epoch, offset: 4), limit: 100)
        #expect(beyond.outcome == .reset(.outsideWindow))
        let tooMany = try await engine.broker.recover(channel: room, since: StreamPosition(epoch: epoch, offset: 5), limit: 4)
        #expect(tooMany.outcome == .reset(.tooManyMissed))
        let ahead = try await engine.broker.recover(channel: room, since: StreamPosition(epoch: epoch, offset: 11), limit: 100)
        #expect(ahead.outcome == .reset(.positionAhead))
        let otherEpoch = try await engine.broker.recover(channel: room, since: StreamPosition(epoch: "other", offset: 9), limit: 100)
        #expect(otherEpoch.outcome == .reset(.epochChanged))
        #expect(otherEpoch.position == StreamPosition(epoch: epoch, offset: 10))
    }

    @Test(arguments: EngineKind.underTest)
    func publicationsExpireAfterTheTTLAndRecoveryWithinItSucceeds(_ kind: EngineKind) async throws {
        let engine = try await EngineUnderTest.make(kind, ttl: .seconds(10))
        defer { engine.close() }
        let first = try await engine.broker.publishing(request(room, 1))
        engine.clock.advance(by: 6 * second)
        _ = try await engine.broker.publishing(request(room, 2))
        let within = try await engine.broker.recover(channel: room, since: StreamPosition(epoch: first.epoch, offset: 0), limit: 100)
        #expect(within.outcome == .recovered && within.publications.map(\.offset) == [1, 2])
        engine.clock.advance(by: 5 * second)  // the first is 11 s old, the second 5 s
        #expect(try await engine.broker.history(channel: room, after: 0, limit: 10).publications.map(\.offset) == [2])
        let expired = try await engine.broker.recover(channel: room, since: StreamPosition(epoch: first.epoch, offset: 0), limit: 100)
        #expect(expired.outcome == .reset(.outsideWindow))
        let recent = try await engine.broker.recover(channel: room, since: first.position, limit: 100)
        #expect(recent.outcome == .recovered && recent.publications.map(\.offset) == [2])
    }

    // MARK: history

    @Test(arguments: EngineKind.underTest)
    func historyPagesForwardFromAnOffset(_ kind: EngineKind) async throws {
        let engine = try await EngineUnderTest.make(kind)
        defer { engine.close() }
        for n in 1...7 { _ = try await engine.broker.publishing(request(room, n)) }
        let first = try await engine.broker.history(channel: room, after: 0, limit: 3)
        #expect(first.publications.map(\.offset) == [1, 2, 3])
        #expect(first.position.offset == 7)
        let second = try await engine.broker.history(channel: room, after: 3, limit: 3)
        #expect(second.publications.map(\.offset) == [4, 5, 6])
        let last = try await engine.broker.history(channel: room, after: 6, limit: 3)
        #expect(last.publications.map(\.offset) == [7])
        #expect(try await engine.broker.history(channel: lobby, after: 0, limit: 3).publications.isEmpty)
    }

    // MARK: idempotency

    @Test(arguments: EngineKind.underTest)
    func aRetriedIdempotencyKeyPublishesOnceAndIsMarkedAsADuplicate(_ kind: EngineKind) async throws {
        let engine = try await EngineUnderTest.make(kind, idempotency: .seconds(60))
        defer { engine.close() }
        let original = try await engine.broker.publish(request(room, 1, idempotencyKey: "abc"))
        let retry = try await engine.broker.publish(request(room, 1, idempotencyKey: "abc"))
        #expect(!original.isDuplicate)
        #expect(retry.isDuplicate)
        #expect(retry.publication.position == original.publication.position)
        #expect(engine.sink.offsets(on: room) == [1])
        // Another channel's key space is its own.
        #expect(try await !engine.broker.publish(request(lobby, 1, idempotencyKey: "abc")).isDuplicate)
        // Past the retention the key is forgotten and publishes anew.
        engine.clock.advance(by: 61 * second)
        let late = try await engine.broker.publish(request(room, 1, idempotencyKey: "abc"))
        #expect(!late.isDuplicate && late.publication.offset == 2)
    }

    // MARK: receipts

    @Test(arguments: EngineKind.underTest)
    func receiptRecordsNameThePresentUsersAndLiveAsLongAsTheirPublication(_ kind: EngineKind) async throws {
        let engine = try await EngineUnderTest.make(kind, capacity: 2)
        defer { engine.close() }
        for user in ["alice", "bob", "carol"] {
            _ = try await engine.broker.presenceJoin(PresenceMember(client: "c-\(user)", user: user, info: nil), channel: room, announce: false)
        }
        let published = try await engine.broker.publishing(request(room, 1, receipts: true, sender: "alice"))
        let record = try #require(try await engine.broker.receipts(channel: room, offset: published.offset))
        #expect(Set(record.recipients.keys) == ["bob", "carol"])
        #expect(try await engine.broker.acknowledge(channel: room, offset: published.offset, user: "bob", status: .read))
        let acknowledged = try #require(try await engine.broker.receipts(channel: room, offset: published.offset))
        #expect(acknowledged.recipients["bob"] == ReceiptRecord.RecipientState(delivered: true, read: true))
        let receipt = try #require(engine.sink.events.last { $0.kind == .receipt })
        #expect(receipt.targetUser == "alice")
        #expect(String(buffer: receipt.push) == #"{"push":"receipt","channel":"chat:room","offset":1,"user":"bob","status":"read"}"#)
        // Two more publications push it out of a two-publication history: its record goes with it.
        _ = try await engine.broker.publishing(request(room, 2))
        _ = try await engine.broker.publishing(request(room, 3))
        #expect(try await engine.broker.receipts(channel: room, offset: published.offset) == nil)
        #expect(try await !engine.broker.acknowledge(channel: room, offset: published.offset, user: "carol", status: .delivered))
    }

    // MARK: presence

    @Test(arguments: EngineKind.underTest)
    func presenceIsAnnouncedInOrderAndPagedByClientID(_ kind: EngineKind) async throws {
        let engine = try await EngineUnderTest.make(kind)
        defer { engine.close() }
        for n in 1...5 {
            _ = try await engine.broker.presenceJoin(PresenceMember(client: "c\(n)", user: "u\(n)", info: nil), channel: room, announce: true)
        }
        try await engine.broker.presenceLeave(client: "c2", channel: room, announce: true)
        let first = try await engine.broker.presence(channel: room, after: nil, limit: 2)
        #expect(first.members.map(\.client) == ["c1", "c3"])
        let rest = try await engine.broker.presence(channel: room, after: "c3", limit: 10)
        #expect(rest.members.map(\.client) == ["c4", "c5"])
        let announced = engine.sink.events.map { "\($0.kind) \(String(buffer: $0.push).contains(#""client":"c2""#) ? "c2" : "")" }
        #expect(announced == ["join ", "join c2", "join ", "join ", "join ", "leave c2"])
    }

    // MARK: trimming

    @Test(arguments: EngineKind.underTest)
    func anExpiredUnsubscribedChannelIsForgottenAndItsOldPositionsGetAResetNeverAGap(_ kind: EngineKind) async throws {
        let engine = try await EngineUnderTest.make(kind, ttl: .seconds(1))
        defer { engine.close() }
        engine.sink.subscribed.withLockedValue { $0 = [lobby] }
        let old = try await engine.broker.publishing(request(room, 1))
        let kept = try await engine.broker.publishing(request(lobby, 1))
        engine.clock.advance(by: 2 * second)
        try await engine.sweep()
        // The subscribed channel keeps its position; the forgotten one starts again, in a new epoch.
        #expect(try await engine.broker.publishing(request(lobby, 2)).position == StreamPosition(epoch: kept.epoch, offset: 2))
        let again = try await engine.broker.publishing(request(room, 2))
        #expect(again.epoch != old.epoch)
        #expect(again.offset == 1)
        let recovery = try await engine.broker.recover(channel: room, since: old.position, limit: 100)
        #expect(recovery.outcome == .reset(.epochChanged))
    }

    @Test(arguments: EngineKind.underTest)
    func aChannelRemembersItsIdempotencyKeysUntilTheyExpire(_ kind: EngineKind) async throws {
        let engine = try await EngineUnderTest.make(kind, capacity: 0, idempotency: .seconds(30))
        defer { engine.close() }
        let first = try await engine.broker.publishing(request(room, 1, idempotencyKey: "k"))
        try await engine.sweep()
        #expect(try await engine.broker.publish(request(room, 1, idempotencyKey: "k")).isDuplicate)
        #expect(try await engine.broker.publishing(request(room, 2)).position == StreamPosition(epoch: first.epoch, offset: 2))
    }

    @Test(arguments: EngineKind.underTest)
    func aChannelKeepsAtMostItsCapacityOfIdempotencyKeysTheOldestGoingFirst(_ kind: EngineKind) async throws {
        let engine = try await EngineUnderTest.make(kind, idempotency: .seconds(300), keyCapacity: 3)
        defer { engine.close() }
        for n in 1...5 {
            _ = try await engine.broker.publishing(request(room, n, idempotencyKey: "k\(n)"))
            engine.clock.advance(by: 1_000_000)
        }
        // The PostgreSQL engine enforces the capacity when it trims; the others when they store the key.
        try await engine.sweep()
        // k1 and k2 were the oldest: forgotten, so they publish anew; k3…k5 are still remembered.
        for n in 3...5 { #expect(try await engine.broker.publish(request(room, n, idempotencyKey: "k\(n)")).isDuplicate, "k\(n)") }
        #expect(try await !engine.broker.publish(request(room, 1, idempotencyKey: "k1")).isDuplicate)
        // The repeat of k1 is a new key: k3 (now the oldest) goes, k4 and k5 stay.
        try await engine.sweep()
        #expect(try await engine.broker.publish(request(room, 5, idempotencyKey: "k5")).isDuplicate)
        #expect(try await engine.broker.publish(request(room, 1, idempotencyKey: "k1")).isDuplicate)
        #expect(try await !engine.broker.publish(request(room, 3, idempotencyKey: "k3")).isDuplicate)
    }
}

import NIOConcurrencyHelpers
import NIOCore
import SwitchboardCore
import Testing

@testable import SwitchboardBroker

/// Records every delivered publication, in delivery order.
private final class RecordingSink: PublicationSink {
    private let box = NIOLockedValueBox<[Publication]>([])
    private let eventBox = NIOLockedValueBox<[EphemeralEvent]>([])

    func deliver(_ publication: Publication) {
        box.withLockedValue { $0.append(publication) }
    }

    func deliver(event: EphemeralEvent) {
        eventBox.withLockedValue { $0.append(event) }
    }

    var events: [EphemeralEvent] { eventBox.withLockedValue { $0 } }

    var publications: [Publication] { box.withLockedValue { $0 } }

    func offsets(on channel: ChannelName) -> [UInt64] {
        publications.filter { $0.channel == channel }.map(\.offset)
    }
}

/// A clock the test moves by hand, in nanoseconds.
private final class ManualClock: Sendable {
    private let box = NIOLockedValueBox<UInt64>(0)

    var now: UInt64 { box.withLockedValue { $0 } }
    func advance(to nanoseconds: UInt64) { box.withLockedValue { $0 = nanoseconds } }
}

/// Hands out `e1`, `e2`, … so epochs are predictable.
private final class CountingEpochs: Sendable {
    private let box = NIOLockedValueBox(0)

    func next() -> String {
        box.withLockedValue {
            $0 += 1
            return "e\($0)"
        }
    }

    var issued: Int { box.withLockedValue { $0 } }
}

private let second: UInt64 = 1_000_000_000
private let room = try! ChannelName(validating: "chat:room")
private let lobby = try! ChannelName(validating: "chat:lobby")

private func request(_ channel: ChannelName, _ n: Int) -> PublishRequest {
    PublishRequest(channel: channel, data: ByteBuffer(string: #"{"n":\#(n)}"#))
}

private func broker(
    capacity: Int = 100, ttl: Duration? = nil, clock: ManualClock = ManualClock(), epochs: CountingEpochs? = nil
) -> MemoryBroker {
    if let epochs {
        return MemoryBroker(
            policy: { _ in HistoryPolicy(capacity: capacity, ttl: ttl) }, now: { clock.now }, makeEpoch: { epochs.next() }
        )
    }
    return MemoryBroker(policy: { _ in HistoryPolicy(capacity: capacity, ttl: ttl) }, now: { clock.now })
}

/// The embedded single-node engine: offsets, epochs, ordered delivery, recovery and TTL.
struct MemoryBrokerTests {
    @Test func offsetsStartAtOneAndIncreasePerChannel() async throws {
        let broker = broker()
        broker.attach(sink: RecordingSink())
        #expect(try await broker.publishing(request(room, 1)).offset == 1)
        #expect(try await broker.publishing(request(room, 2)).offset == 2)
        #expect(try await broker.publishing(request(lobby, 1)).offset == 1)
        #expect(try await broker.publishing(request(room, 3)).offset == 3)
        #expect(try await broker.publishing(request(lobby, 2)).offset == 2)
    }

    @Test func aPublicationKeepsTheRequestsFields() async throws {
        let broker = broker()
        broker.attach(sink: RecordingSink())
        let publication = try await broker.publishing(
            PublishRequest(channel: room, data: ByteBuffer(string: "[1]"), sender: "bob", idempotencyKey: "k")
        )
        #expect(publication.channel == room)
        #expect(String(buffer: publication.data) == "[1]")
        #expect(publication.sender == "bob")
        #expect(publication.idempotencyKey == "k")
    }

    @Test func everyChannelOfOneEngineInstanceSharesItsEpoch() async throws {
        let epochs = CountingEpochs()
        let broker = broker(epochs: epochs)
        broker.attach(sink: RecordingSink())
        let first = try await broker.publishing(request(room, 1))
        let other = try await broker.publishing(request(lobby, 1))
        #expect(first.epoch == "e1")
        #expect(other.epoch == "e1")
        #expect(epochs.issued == 1)
    }

    /// A subscriber of a channel nobody has published to yet gets a position the first publish continues.
    @Test func readingAnUnknownChannelCreatesNoStateAndItsPositionStaysValid() async throws {
        let broker = broker(epochs: CountingEpochs())
        broker.attach(sink: RecordingSink())
        let before = try await broker.recover(channel: room, since: nil, limit: 10)
        #expect(before.position == StreamPosition(epoch: "e1", offset: 0))
        _ = try await broker.publishing(request(room, 1))
        let after = try await broker.recover(channel: room, since: before.position, limit: 10)
        #expect(after.recovered)
        #expect(after.publications.map(\.offset) == [1])
    }

    @Test func epochsDifferPerBrokerInstance() async throws {
        let first = MemoryBroker(policy: { _ in HistoryPolicy(capacity: 10, ttl: nil) })
        let second = MemoryBroker(policy: { _ in HistoryPolicy(capacity: 10, ttl: nil) })
        first.attach(sink: RecordingSink())
        second.attach(sink: RecordingSink())
        let a = try await first.publishing(request(room, 1))
        let b = try await second.publishing(request(room, 1))
        #expect(a.offset == b.offset)
        #expect(a.epoch != b.epoch)
    }

    @Test func aRestartedBrokerMakesOldPositionsUnrecoverable() async throws {
        let before = MemoryBroker(policy: { _ in HistoryPolicy(capacity: 10, ttl: nil) })
        before.attach(sink: RecordingSink())
        let last = try await before.publishing(request(room, 1))
        let after = MemoryBroker(policy: { _ in HistoryPolicy(capacity: 10, ttl: nil) })
        after.attach(sink: RecordingSink())
        let recovery = try await after.recover(channel: room, since: last.position, limit: 100)
        #expect(recovery.outcome == .reset(.epochChanged))
    }

    @Test func theSinkReceivesEveryPublicationInOrder() async throws {
        let sink = RecordingSink()
        let broker = broker()
        broker.attach(sink: sink)
        var returned: [UInt64] = []
        for n in 1...20 {
            returned.append(try await broker.publishing(request(n.isMultiple(of: 3) ? lobby : room, n)).offset)
        }
        let delivered = sink.publications
        #expect(delivered.count == 20)
        #expect(delivered.map { String(buffer: $0.data) } == (1...20).map { #"{"n":\#($0)}"# })
        #expect(delivered.map(\.offset) == returned)
        #expect(sink.offsets(on: room) == Array(1...14))
        #expect(sink.offsets(on: lobby) == Array(1...6))
    }

    @Test func publishingBeforeStartDeliversNothingButStillAssignsOffsets() async throws {
        let sink = RecordingSink()
        let broker = broker()
        #expect(try await broker.publishing(request(room, 1)).offset == 1)
        broker.attach(sink: sink)
        #expect(try await broker.publishing(request(room, 2)).offset == 2)
        #expect(sink.offsets(on: room) == [2])
    }

    @Test func afterItsRunEndsTheSinkReceivesNothing() async throws {
        let sink = RecordingSink()
        let broker = broker()
        broker.attach(sink: sink)
        let running = Task { try await broker.run() }
        _ = try await broker.publishing(request(room, 1))
        running.cancel()
        try await running.value
        _ = try? await broker.publishing(request(room, 2))
        #expect(sink.offsets(on: room) == [1])
    }

    @Test func concurrentPublishesToOneChannelReachTheSinkInOffsetOrderWithoutGaps() async throws {
        let sink = RecordingSink()
        let broker = broker(capacity: 10)
        broker.attach(sink: sink)
        let tasks = 16
        let perTask = 250
        let returned = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var offsets: [UInt64] = []
                    for n in 0..<perTask {
                        offsets.append(try await broker.publishing(request(room, task * perTask + n)).offset)
                    }
                    return offsets
                }
            }
            var all: [UInt64] = []
            for try await offsets in group {
                // Each task's own publishes complete in order, so its offsets increase.
                #expect(offsets == offsets.sorted())
                all += offsets
            }
            return all
        }
        let total = UInt64(tasks * perTask)
        #expect(sink.offsets(on: room) == Array(1...total))
        #expect(returned.sorted() == Array(1...total))
        // Every request's data arrived exactly once.
        #expect(Set(sink.publications.map { String(buffer: $0.data) }).count == tasks * perTask)
    }

    @Test func concurrentPublishesToManyChannelsKeepEachChannelInOrder() async throws {
        let sink = RecordingSink()
        let broker = broker(capacity: 10)
        broker.attach(sink: sink)
        let channels = try (0..<4).map { try ChannelName(validating: "load:c\($0)") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<16 {
                group.addTask {
                    for n in 0..<100 {
                        _ = try await broker.publishing(request(channels[(task + n) % channels.count], n))
                    }
                }
            }
            try await group.waitForAll()
        }
        for channel in channels {
            #expect(sink.offsets(on: channel) == Array(1...400), "\(channel)")
        }
    }

    @Test func recoveryAfterNPublicationsReturnsTheMissedOnes() async throws {
        let broker = broker()
        broker.attach(sink: RecordingSink())
        var publications: [Publication] = []
        for n in 1...5 { publications.append(try await broker.publishing(request(room, n))) }
        let recovery = try await broker.recover(channel: room, since: publications[1].position, limit: 100)
        #expect(recovery.outcome == .recovered)
        #expect(recovery.publications.map(\.offset) == [3, 4, 5])
        #expect(recovery.position == publications[4].position)
    }

    @Test func recoveryWithoutAPositionIsFreshAtTheCurrentPosition() async throws {
        let broker = broker()
        broker.attach(sink: RecordingSink())
        for n in 1...3 { _ = try await broker.publishing(request(room, n)) }
        let recovery = try await broker.recover(channel: room, since: nil, limit: 100)
        #expect(recovery.outcome == .fresh)
        #expect(recovery.position.offset == 3)
        #expect(recovery.publications.isEmpty)
    }

    @Test func recoveryOnAnUnusedChannelStartsItAtOffsetZero() async throws {
        let epochs = CountingEpochs()
        let broker = broker(epochs: epochs)
        broker.attach(sink: RecordingSink())
        let recovery = try await broker.recover(channel: room, since: nil, limit: 100)
        #expect(recovery.position == StreamPosition(epoch: "e1", offset: 0))
        // The channel keeps that epoch, so a subscriber that starts here recovers the first publication.
        _ = try await broker.publishing(request(room, 1))
        let later = try await broker.recover(channel: room, since: recovery.position, limit: 100)
        #expect(later.outcome == .recovered)
        #expect(later.publications.map(\.offset) == [1])
    }

    @Test func recoveryOfMoreThanTheLimitResets() async throws {
        let broker = broker()
        broker.attach(sink: RecordingSink())
        var last: Publication?
        for n in 1...10 { last = try await broker.publishing(request(room, n)) }
        let since = StreamPosition(epoch: last!.epoch, offset: 2)
        let recovery = try await broker.recover(channel: room, since: since, limit: 5)
        #expect(recovery.outcome == .reset(.tooManyMissed))
    }

    @Test func recoveryBeyondTheChannelsCapacityResets() async throws {
        let broker = broker(capacity: 3)
        broker.attach(sink: RecordingSink())
        var last: Publication?
        for n in 1...10 { last = try await broker.publishing(request(room, n)) }
        let recovery = try await broker.recover(channel: room, since: StreamPosition(epoch: last!.epoch, offset: 5), limit: 100)
        #expect(recovery.outcome == .reset(.outsideWindow))
        #expect(recovery.position == last!.position)
    }

    @Test func thePolicyIsChosenPerChannel() async throws {
        let broker = MemoryBroker(policy: { channel in
            HistoryPolicy(capacity: channel.namespace == "chat" ? 5 : 0, ttl: nil)
        })
        let news = try ChannelName(validating: "news:today")
        broker.attach(sink: RecordingSink())
        for n in 1...3 {
            _ = try await broker.publishing(request(room, n))
            _ = try await broker.publishing(request(news, n))
        }
        #expect(try await broker.history(channel: room, after: 0, limit: 10).publications.count == 3)
        #expect(try await broker.history(channel: news, after: 0, limit: 10).publications.isEmpty)
    }

    @Test func historyReturnsThePositionAndHeldPublications() async throws {
        let broker = broker()
        broker.attach(sink: RecordingSink())
        var last: Publication?
        for n in 1...6 { last = try await broker.publishing(request(room, n)) }
        let history = try await broker.history(channel: room, after: 2, limit: 3)
        #expect(history.position == last!.position)
        #expect(history.publications.map(\.offset) == [3, 4, 5])
    }

    @Test func publicationsExpireAfterTheTTLByTheInjectedClock() async throws {
        let clock = ManualClock()
        let broker = broker(ttl: .seconds(10), clock: clock)
        broker.attach(sink: RecordingSink())
        clock.advance(to: 1 * second)
        let first = try await broker.publishing(request(room, 1))
        clock.advance(to: 6 * second)
        _ = try await broker.publishing(request(room, 2))

        clock.advance(to: 11 * second)  // the first is exactly 10s old: still held
        #expect(try await broker.history(channel: room, after: 0, limit: 10).publications.map(\.offset) == [1, 2])

        clock.advance(to: 12 * second)  // the first is 11s old, the second 6s
        #expect(try await broker.history(channel: room, after: 0, limit: 10).publications.map(\.offset) == [2])
        let recovery = try await broker.recover(channel: room, since: StreamPosition(epoch: first.epoch, offset: 0), limit: 100)
        #expect(recovery.outcome == .reset(.outsideWindow))
    }

    @Test func recoveryWithinTheTTLSucceedsByTheInjectedClock() async throws {
        let clock = ManualClock()
        let broker = broker(ttl: .milliseconds(1500), clock: clock)
        broker.attach(sink: RecordingSink())
        let first = try await broker.publishing(request(room, 1))
        clock.advance(to: 1 * second)
        _ = try await broker.publishing(request(room, 2))
        clock.advance(to: 2 * second)  // the first is 2s old (expired), the second 1s
        let recovery = try await broker.recover(channel: room, since: first.position, limit: 100)
        #expect(recovery.outcome == .recovered)
        #expect(recovery.publications.map(\.offset) == [2])
    }
}

@Suite struct MemoryBrokerPresenceTests {
    private let channel = try! ChannelName(validating: "room:1")

    private func started() async throws -> (MemoryBroker, RecordingSink) {
        let broker = MemoryBroker(policy: { _ in HistoryPolicy(capacity: 10, ttl: nil) })
        let sink = RecordingSink()
        broker.attach(sink: sink)
        return (broker, sink)
    }

    @Test func joinsAndLeavesAreAnnouncedInOrder() async throws {
        let (broker, sink) = try await started()
        _ = try await broker.presenceJoin(PresenceMember(client: "a", user: "alice", info: nil), channel: channel, announce: true)
        try await broker.presenceLeave(client: "a", channel: channel, announce: true)
        #expect(sink.events.map(\.kind) == [.join, .leave])
        #expect(try await broker.presence(channel: channel, after: nil, limit: 10).counts.clients == 0)
    }

    @Test func unannouncedChangesStillChangePresence() async throws {
        let (broker, sink) = try await started()
        _ = try await broker.presenceJoin(PresenceMember(client: "a", user: nil, info: nil), channel: channel, announce: false)
        #expect(sink.events.isEmpty)
        #expect(try await broker.presence(channel: channel, after: nil, limit: 10).members.map(\.client) == ["a"])
    }

    @Test func signalsGoToTheSinkAndNotToHistory() async throws {
        let (broker, sink) = try await started()
        try await broker.signal(.signal(channel: channel, type: "typing", client: "a", user: nil, data: nil))
        #expect(sink.events.map(\.kind) == [.signal])
        #expect(try await broker.history(channel: channel, after: 0, limit: 10).publications.isEmpty)
    }
}

/// A sink that says which channels have subscribers on this node.
private final class SubscribedSink: PublicationSink {
    let subscribed = NIOLockedValueBox<Set<ChannelName>>([])
    let delivered = NIOLockedValueBox<[Publication]>([])
    func deliver(_ publication: Publication) { delivered.withLockedValue { $0.append(publication) } }
    func deliver(event: EphemeralEvent) {}
    func hasSubscribers(_ channel: ChannelName) -> Bool { subscribed.withLockedValue { $0.contains(channel) } }
}

/// Channel state is given back once nothing in it can be asked for: no history left, no idempotency key, no receipt,
/// no subscriber. Forgetting never turns into a silent gap: positions from before come back as a reset.
struct MemoryBrokerReclaimTests {
    private func reclaimingBroker(ttl: Duration?, capacity: Int = 100, clock: ManualClock, epochs: CountingEpochs) -> MemoryBroker {
        MemoryBroker(
            policy: { _ in HistoryPolicy(capacity: capacity, ttl: ttl) }, now: { clock.now }, makeEpoch: { epochs.next() },
            sweepInterval: nil)
    }

    @Test func aChannelIsForgottenOnceItsHistoryExpiredAndNobodySubscribes() async throws {
        let clock = ManualClock()
        let broker = reclaimingBroker(ttl: .seconds(60), clock: clock, epochs: CountingEpochs())
        broker.attach(sink: SubscribedSink())
        for n in 0..<1000 { _ = try await broker.publishing(request(try ChannelName(validating: "chat:c\(n)"), n)) }
        #expect(broker.channelCount == 1000)
        #expect(broker.reclaimIdleChannels() == 0)  // history still held
        clock.advance(to: 61 * second)
        #expect(broker.reclaimIdleChannels() == 1000)
        #expect(broker.channelCount == 0)
    }

    @Test func aSubscribedChannelIsKeptSoLiveOffsetsNeverRestart() async throws {
        let clock = ManualClock()
        let sink = SubscribedSink()
        let broker = reclaimingBroker(ttl: .seconds(60), clock: clock, epochs: CountingEpochs())
        broker.attach(sink: sink)
        sink.subscribed.withLockedValue { _ = $0.insert(room) }
        _ = try await broker.publishing(request(room, 1))
        _ = try await broker.publishing(request(lobby, 1))
        clock.advance(to: 61 * second)
        #expect(broker.reclaimIdleChannels() == 1)  // lobby only
        #expect(try await broker.publishing(request(room, 2)).offset == 2)
    }

    @Test func rememberedIdempotencyKeysKeepAChannel() async throws {
        let clock = ManualClock()
        let broker = MemoryBroker(
            policy: { _ in HistoryPolicy(capacity: 0, ttl: nil, idempotencyRetention: .seconds(300)) }, now: { clock.now },
            sweepInterval: nil)
        broker.attach(sink: SubscribedSink())
        let first = try await broker.publishing(PublishRequest(channel: room, data: ByteBuffer(string: "1"), idempotencyKey: "k"))
        #expect(broker.reclaimIdleChannels() == 0)
        clock.advance(to: 301 * second)
        #expect(broker.reclaimIdleChannels() == 1)
        let again = try await broker.publishing(PublishRequest(channel: room, data: ByteBuffer(string: "1"), idempotencyKey: "k"))
        #expect(again.epoch != first.epoch)
    }

    /// The danger of forgetting: a client at (epoch, 5) of the old stream must not "recover" offsets 6… of a new
    /// stream that restarted at 1. The generation epoch turns it into an explicit reset.
    @Test func aPositionFromAForgottenChannelGetsAResetNeverAGap() async throws {
        let clock = ManualClock()
        let broker = reclaimingBroker(ttl: .seconds(60), clock: clock, epochs: CountingEpochs())
        broker.attach(sink: SubscribedSink())
        var last: Publication?
        for n in 1...5 { last = try await broker.publishing(request(room, n)) }
        let held = StreamPosition(epoch: last!.epoch, offset: 5)
        clock.advance(to: 61 * second)
        #expect(broker.reclaimIdleChannels() == 1)
        for n in 1...7 { _ = try await broker.publishing(request(room, n)) }
        let recovery = try await broker.recover(channel: room, since: held, limit: 100)
        #expect(recovery.outcome == .reset(.epochChanged))
        #expect(recovery.position.offset == 7)
    }

    /// A subscriber that read an absent channel, and whose first publication follows before any sweep, recovers it.
    @Test func anAbsentChannelReadsAtTheCurrentGenerationAndItsFirstPublishContinuesIt() async throws {
        let clock = ManualClock()
        let broker = reclaimingBroker(ttl: .seconds(60), clock: clock, epochs: CountingEpochs())
        broker.attach(sink: SubscribedSink())
        _ = try await broker.publishing(request(lobby, 1))
        clock.advance(to: 61 * second)
        broker.reclaimIdleChannels()
        let before = try await broker.recover(channel: room, since: nil, limit: 10)
        #expect(before.position.epoch == "e2")
        _ = try await broker.publishing(request(room, 1))
        let after = try await broker.recover(channel: room, since: before.position, limit: 10)
        #expect(after.recovered)
        #expect(after.publications.map(\.offset) == [1])
    }

    /// Once started, the engine sweeps by itself every `sweepInterval` (the server's is 10 s).
    @Test func theStartedEngineSweepsOnItsOwn() async throws {
        let clock = ManualClock()
        let broker = MemoryBroker(
            policy: { _ in HistoryPolicy(capacity: 10, ttl: .seconds(1)) }, now: { clock.now }, sweepInterval: .milliseconds(10))
        broker.attach(sink: SubscribedSink())
        let running = Task { try await broker.run() }
        _ = try await broker.publishing(request(room, 1))
        clock.advance(to: 2 * second)
        let deadline = ContinuousClock.now + .seconds(10)
        while broker.channelCount > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(broker.channelCount == 0)
        running.cancel()
        try await running.value
    }

    /// A publish racing the sweep either lands in the old stream (then the stream was not idle) or in a new one.
    @Test func publishingWhileSweepingLosesNothing() async throws {
        let clock = ManualClock()
        let sink = SubscribedSink()
        let broker = reclaimingBroker(ttl: .seconds(1), capacity: 0, clock: clock, epochs: CountingEpochs())
        broker.attach(sink: sink)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for n in 0..<2000 { _ = try? await broker.publishing(request(room, n)) }
            }
            group.addTask {
                for _ in 0..<2000 { broker.reclaimIdleChannels() }
            }
        }
        #expect(sink.delivered.withLockedValue { $0.count } == 2000)
    }
}

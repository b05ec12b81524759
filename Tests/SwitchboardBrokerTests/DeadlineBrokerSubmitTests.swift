import NIOConcurrencyHelpers
import NIOCore
import SwitchboardCore
import Testing

@testable import SwitchboardBroker

/// An engine whose publications are submitted with a completion (like the SQLite engine's writer) and answered when
/// the test says so; everything else goes to a memory engine.
private final class HeldPublisher: Broker, SubmitsPublications {
    private let inner = MemoryBroker(policy: { _ in HistoryPolicy(capacity: 10, ttl: nil) }, sweepInterval: nil)
    private let held = NIOLockedValueBox<[@Sendable (Result<PublishResult, any Error>) -> Void]>([])
    /// Answers every submission at once (with the memory engine's result) instead of holding it.
    let answerAtOnce: Bool

    init(answerAtOnce: Bool = false) { self.answerAtOnce = answerAtOnce }

    var heldCount: Int { held.withLockedValue { $0.count } }

    func submit(_ request: PublishRequest, completion: @escaping @Sendable (Result<PublishResult, any Error>) -> Void) {
        guard answerAtOnce else {
            held.withLockedValue { $0.append(completion) }
            return
        }
        let inner = inner
        Task {
            do {
                completion(.success(try await inner.publish(request)))
            } catch {
                completion(.failure(error))
            }
        }
    }

    /// Answers the held submissions, oldest first, with `result`.
    func answerHeld(with result: Result<PublishResult, any Error>) {
        let completions = held.withLockedValue { held in
            defer { held = [] }
            return held
        }
        for completion in completions { completion(result) }
    }

    func attach(sink: any PublicationSink) { inner.attach(sink: sink) }
    func run() async throws {}
    func publish(_ request: PublishRequest) async throws -> PublishResult {
        try await withCheckedThrowingContinuation { continuation in submit(request) { continuation.resume(with: $0) } }
    }
    func recover(channel: ChannelName, since: StreamPosition?, limit: Int) async throws -> Recovery {
        try await inner.recover(channel: channel, since: since, limit: limit)
    }
    func history(channel: ChannelName, after: UInt64, limit: Int) async throws -> (position: StreamPosition, publications: [Publication]) {
        try await inner.history(channel: channel, after: after, limit: limit)
    }
    func presenceJoin(_ member: PresenceMember, channel: ChannelName, announce: Bool) async throws -> Bool {
        try await inner.presenceJoin(member, channel: channel, announce: announce)
    }
    func presenceLeave(client: String, channel: ChannelName, announce: Bool) async throws {
        try await inner.presenceLeave(client: client, channel: channel, announce: announce)
    }
    func presenceUpdate(client: String, info: ByteBuffer?, channel: ChannelName, announce: Bool) async throws -> Bool {
        try await inner.presenceUpdate(client: client, info: info, channel: channel, announce: announce)
    }
    func presence(channel: ChannelName, after cursor: String?, limit: Int) async throws -> PresencePage {
        try await inner.presence(channel: channel, after: cursor, limit: limit)
    }
    func acknowledge(channel: ChannelName, offset: UInt64, user: String, status: ReceiptRecord.Status) async throws -> Bool {
        try await inner.acknowledge(channel: channel, offset: offset, user: user, status: status)
    }
    func receipts(channel: ChannelName, offset: UInt64) async throws -> ReceiptRecord? {
        try await inner.receipts(channel: channel, offset: offset)
    }
    func signal(_ event: EphemeralEvent) async throws { try await inner.signal(event) }
}

private let channel = try! ChannelName(validating: "chat:deadline")

private func request(_ n: Int) -> PublishRequest {
    PublishRequest(channel: channel, data: ByteBuffer(string: #"{"n":\#(n)}"#))
}

private func timedOut(_ body: () async throws -> PublishResult) async -> Bool {
    do {
        _ = try await body()
        return false
    } catch let error as EngineError {
        return error.kind == .timedOut
    } catch {
        return false
    }
}

/// The publish path of engines that take a completion (``SubmitsPublications``): raced against one shared deadline
/// timer in the caller's task instead of a task and a timer per call.
@Suite struct DeadlineBrokerSubmitTests {
    @Test func aSubmittedPublishNeverAnsweredFailsAsTimedOutAfterTheDeadline() async {
        let engine = HeldPublisher()
        let broker = DeadlineBroker(engine, timeout: .milliseconds(100))
        let started = ContinuousClock.now
        #expect(await timedOut { try await broker.publish(request(1)) })
        #expect(ContinuousClock.now - started >= .milliseconds(100))
        #expect(engine.heldCount == 1)
    }

    @Test func everyHungCallExpiresWithItsOwnDeadline() async {
        let engine = HeldPublisher()
        let broker = DeadlineBroker(engine, timeout: .milliseconds(150))
        // Submitted one after the other: one timer serves them all, re-armed for each next deadline.
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for n in 0..<5 {
                group.addTask { await timedOut { try await broker.publish(request(n)) } }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes == [true, true, true, true, true])
        // A call made after the others expired gets a deadline of its own (the timer went idle and is armed again).
        #expect(await timedOut { try await broker.publish(request(5)) })
    }

    @Test func anAnswerAfterTheDeadlineIsDropped() async {
        let engine = HeldPublisher()
        let broker = DeadlineBroker(engine, timeout: .milliseconds(50))
        #expect(await timedOut { try await broker.publish(request(1)) })
        let late = PublishResult(
            publication: Publication(channel: channel, epoch: "e", offset: 1, data: ByteBuffer(string: "{}")), isDuplicate: false)
        engine.answerHeld(with: .success(late))  // no second resumption of the caller (that would trap)
        #expect(engine.heldCount == 0)
    }

    @Test func answersBeforeTheDeadlineComeBackAndLeaveNoEntriesBehind() async throws {
        let engine = HeldPublisher(answerAtOnce: true)
        let broker = DeadlineBroker(engine, timeout: .seconds(30))
        for n in 1...1_000 {
            let result = try await broker.publish(request(n))
            #expect(result.publication.offset == UInt64(n))
        }
        // Answered calls leave the queue's front as new ones arrive: it never holds more than the call in flight.
        #expect(broker.pendingDeadlines <= 1)
    }

    @Test func anEngineFailureReachesTheCallerAsItsEngineError() async {
        let engine = HeldPublisher()
        let broker = DeadlineBroker(engine, timeout: .seconds(30))
        async let outcome: Result<PublishResult, EngineError> = {
            do { return .success(try await broker.publish(request(1))) } catch let error as EngineError { return .failure(error) } catch {
                return .failure(EngineError(.internal, operation: "publish", detail: "\(error)"))
            }
        }()
        while engine.heldCount == 0 { await Task.yield() }
        engine.answerHeld(with: .failure(EngineError(.unavailable, operation: "publish", detail: "disk full")))
        guard case .failure(let error) = await outcome else {
            Issue.record("the failure was answered as a success")
            return
        }
        #expect(error.kind == .unavailable)
    }

    @Test func theObserverHearsOfSubmittedCallsLikeAnyOther() async {
        let outcomes = NIOLockedValueBox<[String]>([])
        let engine = HeldPublisher()
        let broker = DeadlineBroker(engine, timeout: .milliseconds(50)) { operation, outcome, _, _ in
            outcomes.withLockedValue { $0.append("\(operation) \(outcome.rawValue)") }
        }
        _ = await timedOut { try await broker.publish(request(1)) }
        #expect(outcomes.withLockedValue { $0 } == ["publish timed_out"])
    }
}

import Dispatch
import NIOConcurrencyHelpers
public import NIOCore
import ServiceLifecycle
public import SwitchboardCore

/// Puts a deadline on every call into an engine that can block, and turns every failure into an ``EngineError``.
///
/// A hung engine (a database that stopped answering, a lock never released) must not wedge the sessions that call it:
/// after `timeout` the call fails with ``EngineError/Kind/timedOut`` and the caller moves on. The engine's own work
/// cannot be stopped from outside — it is only asked to cancel — so a late result is dropped.
public final class DeadlineBroker: Broker {
    public let engine: any Broker
    public let timeout: Duration
    private let observer: CallObserver?
    /// Deadlines of submitted publications (``SubmitsPublications``).
    private let deadlines: DeadlineQueue

    /// How a call ended, as the observer is told.
    public enum CallOutcome: String, Sendable {
        case ok
        case failed
        case timedOut = "timed_out"
    }

    /// Told of every call when it ends: its operation name (`publish`, `recover`, …), outcome, duration, and the error
    /// of a failed call (metrics and logs).
    public typealias CallObserver = @Sendable (_ operation: String, _ outcome: CallOutcome, _ duration: Duration, _ error: EngineError?) -> Void

    public init(_ engine: any Broker, timeout: Duration, observer: CallObserver? = nil) {
        self.engine = engine
        self.timeout = timeout
        self.observer = observer
        self.deadlines = DeadlineQueue(timeout: timeout)
    }

    public func attach(sink: any PublicationSink) { engine.attach(sink: sink) }

    /// The engine's own run: background work has no deadline (it lasts as long as the server).
    public func run() async throws { try await engine.run() }

    public var isAvailable: Bool { engine.isAvailable }

    public func publish(_ request: PublishRequest) async throws -> PublishResult {
        if let submitting = engine as? any SubmitsPublications {
            return try await observed("publish") { () async throws(EngineError) -> PublishResult in
                try await self.submitted("publish") { completion in submitting.submit(request, completion: completion) }
            }
        }
        return try await call("publish") { [engine] in try await engine.publish(request) }
    }

    /// One deadline for the whole batch; past it every request fails as timed out.
    public func publish(batch requests: [PublishRequest]) async -> [Result<PublishResult, any Error>] {
        do {
            let results = try await call("publish") { [engine] in await engine.publish(batch: requests) }
            return results.map { result in result.mapError { EngineError(wrapping: $0, operation: "publish") } }
        } catch {
            return requests.map { _ in .failure(error) }
        }
    }

    public func recover(channel: ChannelName, since: StreamPosition?, limit: Int) async throws -> Recovery {
        try await call("recover") { [engine] in try await engine.recover(channel: channel, since: since, limit: limit) }
    }

    public func history(channel: ChannelName, after: UInt64, limit: Int) async throws -> (position: StreamPosition, publications: [Publication]) {
        let page = try await call("history") { [engine] in
            let (position, publications) = try await engine.history(channel: channel, after: after, limit: limit)
            return HistoryPage(position: position, publications: publications)
        }
        return (page.position, page.publications)
    }

    public func presenceJoin(_ member: PresenceMember, channel: ChannelName, announce: Bool) async throws -> Bool {
        try await call("presence_join") { [engine] in try await engine.presenceJoin(member, channel: channel, announce: announce) }
    }

    public func presenceLeave(client: String, channel: ChannelName, announce: Bool) async throws {
        try await call("presence_leave") { [engine] in try await engine.presenceLeave(client: client, channel: channel, announce: announce) }
    }

    public func presenceUpdate(client: String, info: ByteBuffer?, channel: ChannelName, announce: Bool) async throws -> Bool {
        try await call("presence_update") { [engine] in
            try await engine.presenceUpdate(client: client, info: info, channel: channel, announce: announce)
        }
    }

    public func presence(channel: ChannelName, after cursor: String?, limit: Int) async throws -> PresencePage {
        try await call("presence") { [engine] in try await engine.presence(channel: channel, after: cursor, limit: limit) }
    }

    public func acknowledge(channel: ChannelName, offset: UInt64, user: String, status: ReceiptRecord.Status) async throws -> Bool {
        try await call("acknowledge") { [engine] in try await engine.acknowledge(channel: channel, offset: offset, user: user, status: status) }
    }

    public func receipts(channel: ChannelName, offset: UInt64) async throws -> ReceiptRecord? {
        try await call("receipts") { [engine] in try await engine.receipts(channel: channel, offset: offset) }
    }

    public func signal(_ event: EphemeralEvent) async throws {
        try await call("signal") { [engine] in try await engine.signal(event) }
    }

    public func broadcast(_ command: ControlCommand) async throws {
        try await call("broadcast") { [engine] in try await engine.broadcast(command) }
    }

    private struct HistoryPage: Sendable {
        var position: StreamPosition
        var publications: [Publication]
    }

    public var callsMayBlock: Bool { engine.callsMayBlock }

    /// Submitted calls whose deadline entry is still queued (tests).
    var pendingDeadlines: Int { deadlines.count }

    /// Runs `work` with the deadline (inline when the engine never blocks); throws only ``EngineError``.
    private func call<T: Sendable>(_ operation: String, _ work: @escaping @Sendable () async throws -> T) async throws(EngineError) -> T {
        try await observed(operation) { () async throws(EngineError) -> T in try await self.deadlined(operation, work) }
    }

    /// A submitted call (``SubmitsPublications``) under the deadline: answered by whichever comes first, the engine's
    /// completion or the shared deadline timer, in the caller's task.
    private func submitted<T: Sendable>(
        _ operation: String, _ start: (@escaping @Sendable (Result<T, any Error>) -> Void) -> Void
    ) async throws(EngineError) -> T {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, EngineError>, Never>) in
            let race = Race<T>(operation: operation, timeout: timeout)
            race.install(continuation)
            start { result in race.finish(result.mapError { EngineError(wrapping: $0, operation: operation) }) }
            deadlines.add(race)
        }
        return try result.get()
    }

    /// Tells the observer how `body` ended and how long it took.
    private func observed<T: Sendable>(_ operation: String, _ body: () async throws(EngineError) -> T) async throws(EngineError) -> T {
        guard let observer else { return try await body() }
        let started = ContinuousClock.now
        do {
            let value = try await body()
            observer(operation, .ok, ContinuousClock.now - started, nil)
            return value
        } catch {
            observer(operation, error.kind == .timedOut ? .timedOut : .failed, ContinuousClock.now - started, error)
            throw error
        }
    }

    private func deadlined<T: Sendable>(_ operation: String, _ work: @escaping @Sendable () async throws -> T) async throws(EngineError) -> T {
        guard engine.callsMayBlock else {
            do {
                return try await work()
            } catch {
                throw EngineError(wrapping: error, operation: operation)
            }
        }
        return try await Self.run(operation, timeout: timeout, work).get()
    }

    /// The race between `work` and the deadline: whichever ends first answers; the other is cancelled.
    public static func run<T: Sendable>(
        _ operation: String, timeout: Duration, _ work: @escaping @Sendable () async throws -> T
    ) async -> Result<T, EngineError> {
        let race = Race<T>(operation: operation, timeout: timeout)
        return await withCheckedContinuation { continuation in
            race.install(continuation)
            let worker = Task {
                do {
                    race.finish(.success(try await work()))
                } catch {
                    race.finish(.failure(EngineError(wrapping: error, operation: operation)))
                }
            }
            // A dispatch timer rather than a sleeping task: cancelling it when the work ends first wakes nothing up,
            // so a call costs one task, not two.
            let timer = DeadlineTimer {
                race.expire()
                worker.cancel()
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(DeadlineQueue.nanoseconds(timeout)), execute: timer.item)
            race.onFinish { timer.item.cancel() }
        }
    }

    /// The deadline's work item. `@unchecked`: `DispatchWorkItem` is not marked `Sendable` in corelibs-dispatch, but
    /// `cancel()` may be called from any thread (it only sets a flag the queue checks before running the item).
    private final class DeadlineTimer: @unchecked Sendable {
        let item: DispatchWorkItem
        init(_ fire: @escaping @Sendable () -> Void) { item = DispatchWorkItem(block: fire) }
    }

    /// Resumes one continuation exactly once, with the first result offered: the work's, or the timeout when the
    /// deadline (a timer of its own or the shared ``DeadlineQueue``) comes first.
    private final class Race<T: Sendable>: ExpiringCall {
        private struct State {
            var continuation: CheckedContinuation<Result<T, EngineError>, Never>?
            var finished = false
            var onFinish: (@Sendable () -> Void)?
        }
        private let state = NIOLockedValueBox(State())
        private let operation: String
        private let timeout: Duration

        init(operation: String, timeout: Duration) {
            self.operation = operation
            self.timeout = timeout
        }

        var isFinished: Bool { state.withLockedValue { $0.finished } }

        func expire() {
            finish(.failure(EngineError(.timedOut, operation: operation, detail: "no answer within \(timeout)")))
        }

        func install(_ continuation: CheckedContinuation<Result<T, EngineError>, Never>) {
            state.withLockedValue { $0.continuation = continuation }
        }

        /// Runs `action` when the race ends (at once if it already has).
        func onFinish(_ action: @escaping @Sendable () -> Void) {
            let runNow = state.withLockedValue { state -> Bool in
                guard !state.finished else { return true }
                state.onFinish = action
                return false
            }
            if runNow { action() }
        }

        func finish(_ result: Result<T, EngineError>) {
            let (continuation, action) = state.withLockedValue {
                state -> (CheckedContinuation<Result<T, EngineError>, Never>?, (@Sendable () -> Void)?) in
                guard !state.finished else { return (nil, nil) }
                state.finished = true
                defer {
                    state.continuation = nil
                    state.onFinish = nil
                }
                return (state.continuation, state.onFinish)
            }
            continuation?.resume(returning: result)
            action?()
        }
    }
}

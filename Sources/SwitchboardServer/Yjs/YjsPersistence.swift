import Logging
import NIOConcurrencyHelpers
import SwitchboardBroker

/// Writes rooms' log changes to the engine's ``YjsRoomStore`` in the order they happened, one at a time, off the event
/// loops: the rooms enqueue under their locks, one task drains the queue. Reads a room's stored log for its first
/// connection. Both have the engine's call deadline.
///
/// A client's update is relayed before it is on disk; ``stored(_:)`` waits until what a room accepted so far is
/// written (the server answers a sync step 1 only then), so a crash loses only updates no step 1 answer covered yet
/// (the clients that have them send them again on their next sync step 1).
final class YjsPersistence: Sendable {
    enum Operation: Sendable {
        case append(room: String, update: [UInt8])
        case compact(room: String, count: Int, merged: [UInt8])
        /// Nothing to write: `done` is told, once every operation queued before it was carried out, whether each of
        /// the room's writes so far succeeded.
        case barrier(room: String, done: @Sendable (Bool) -> Void)

        var room: String {
            switch self {
            case .append(let room, _), .compact(let room, _, _), .barrier(let room, _): room
            }
        }
    }

    /// Per room, what the store does not have yet: operations queued or being written, and whether one failed.
    private struct Backlog {
        var queued: [String: Int] = [:]
        var failed: Set<String> = []
    }

    /// Released by ``finish()``: the engine (and its data directory's lock) must not outlive the server.
    private let storeBox: NIOLockedValueBox<(any YjsRoomStore)?>
    private let backlog = NIOLockedValueBox(Backlog())
    private let continuation: AsyncStream<Operation>.Continuation
    private let writer: Task<Void, Never>
    /// `engine.call_timeout_ms`, for reads and ``stored(_:)``.
    private let callTimeout: Duration
    private let observer: DeadlineBroker.CallObserver?
    private let logger: Logger

    init(store: any YjsRoomStore, callTimeout: Duration, observer: DeadlineBroker.CallObserver? = nil, logger: Logger) {
        self.storeBox = NIOLockedValueBox(store)
        self.callTimeout = callTimeout
        self.observer = observer
        self.logger = logger
        let (operations, continuation) = AsyncStream<Operation>.makeStream()
        self.continuation = continuation
        let backlog = self.backlog
        self.writer = Task {
            for await operation in operations {
                var failed = false
                do {
                    switch operation {
                    case .append(let room, let update): try await store.appendYjsUpdate(update, to: room)
                    case .compact(let room, let count, let merged): try await store.compactYjsRoom(room, first: count, into: merged)
                    case .barrier(let room, let done): done(!backlog.withLockedValue { $0.failed.contains(room) })
                    }
                } catch {
                    failed = true
                    logger.error("storing a Yjs room change failed", metadata: ["room": .string(operation.room), "error": "\(error)"])
                }
                backlog.withLockedValue { backlog in
                    let left = (backlog.queued[operation.room] ?? 1) - 1
                    backlog.queued[operation.room] = left > 0 ? left : nil
                    if failed { backlog.failed.insert(operation.room) }
                }
            }
        }
    }

    /// The store, until ``finish()``.
    var store: (any YjsRoomStore)? { storeBox.withLockedValue { $0 } }

    func enqueue(_ operation: Operation) {
        backlog.withLockedValue { $0.queued[operation.room, default: 0] += 1 }
        // After ``finish()`` nothing is written any more: a barrier is answered at once.
        if case .terminated = continuation.yield(operation), case .barrier(_, let done) = operation { done(false) }
    }

    /// Whether the store holds the room's whole log: nothing queued for it and no write of it failed. Only then may the
    /// room leave memory (a later connection reads it back from the store).
    func isSettled(_ room: String) -> Bool {
        backlog.withLockedValue { $0.queued[room] == nil && !$0.failed.contains(room) }
    }

    /// The room's stored log, read within the engine's call deadline.
    func load(_ room: String) async -> Result<[[UInt8]], EngineError> {
        await deadlined("yjs_load") { [storeBox] in
            guard let store = storeBox.withLockedValue({ $0 }) else {
                throw EngineError(.unavailable, operation: "yjs_load", detail: "the server is stopping")
            }
            return try await store.loadYjsRoom(room)
        }
    }

    /// Returns once every change of the room queued so far is written to the engine; fails when one of its writes
    /// failed, or when that takes longer than the engine's call deadline.
    func stored(_ room: String) async -> Result<Void, EngineError> {
        await deadlined("yjs_store") { [self] in
            let whole = await withCheckedContinuation { continuation in
                enqueue(.barrier(room: room, done: { continuation.resume(returning: $0) }))
            }
            guard whole else { throw EngineError(.internal, operation: "yjs_store", detail: "a write of the room failed") }
        }
    }

    private func deadlined<T: Sendable>(_ operation: String, _ work: @escaping @Sendable () async throws -> T) async -> Result<T, EngineError> {
        let started = ContinuousClock.now
        let result = await DeadlineBroker.run(operation, timeout: callTimeout, work)
        if let observer {
            switch result {
            case .success: observer(operation, .ok, ContinuousClock.now - started, nil)
            case .failure(let error): observer(operation, error.kind == .timedOut ? .timedOut : .failed, ContinuousClock.now - started, error)
            }
        }
        return result
    }

    /// Writes what is queued, then lets go of the store; later changes are not stored. Gives up when the engine
    /// writes nothing for twice the call deadline: a hung engine must not hold the server's shutdown.
    func finish() async {
        continuation.finish()
        var queuedBefore = Int.max
        while case .failure = await DeadlineBroker.run("yjs_finish", timeout: callTimeout, { [writer] in await writer.value }) {
            let queued = backlog.withLockedValue { $0.queued.values.reduce(0, +) }
            guard queued < queuedBefore else {
                logger.error("the engine stopped storing Yjs room changes; stopping without them", metadata: ["unstored": "\(queued)"])
                break
            }
            queuedBefore = queued
        }
        storeBox.withLockedValue { $0 = nil }
    }
}

import Logging
import NIOConcurrencyHelpers
import SwitchboardBroker

/// Writes rooms' log changes to the engine's ``YjsRoomStore`` in the order they happened, one at a time, off the event
/// loops: the rooms enqueue under their locks, one task drains the queue.
///
/// Not acknowledged: a client's update is relayed before it is on disk, so a crash can lose the last updates that were
/// still queued (the clients that have them send them again on their next sync step 1).
final class YjsPersistence: Sendable {
    enum Operation: Sendable {
        case append(room: String, update: [UInt8])
        case compact(room: String, count: Int, merged: [UInt8])
    }

    /// Released by ``finish()``: the engine (and its data directory's lock) must not outlive the server.
    private let storeBox: NIOLockedValueBox<(any YjsRoomStore)?>
    private let continuation: AsyncStream<Operation>.Continuation
    private let writer: Task<Void, Never>

    init(store: any YjsRoomStore, logger: Logger) {
        self.storeBox = NIOLockedValueBox(store)
        let (operations, continuation) = AsyncStream<Operation>.makeStream()
        self.continuation = continuation
        self.writer = Task {
            for await operation in operations {
                do {
                    switch operation {
                    case .append(let room, let update): try await store.appendYjsUpdate(update, to: room)
                    case .compact(let room, let count, let merged): try await store.compactYjsRoom(room, first: count, into: merged)
                    }
                } catch {
                    logger.error("storing a Yjs room change failed", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// The store, until ``finish()``.
    var store: (any YjsRoomStore)? { storeBox.withLockedValue { $0 } }

    func enqueue(_ operation: Operation) {
        continuation.yield(operation)
    }

    /// Writes what is queued, then lets go of the store; later changes are not stored.
    func finish() async {
        continuation.finish()
        await writer.value
        storeBox.withLockedValue { $0 = nil }
    }
}

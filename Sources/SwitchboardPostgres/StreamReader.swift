import Dispatch
import NIOConcurrencyHelpers
import SwitchboardBroker
import SwitchboardCore

/// What this node's reader knows: how far it has read each shard, the last position it delivered per channel (the gap
/// guard), and the publishers on this node waiting for their publication to reach the local hub.
final class StreamReader: Sendable {
    private struct State {
        /// Per shard, the highest id delivered to this node's hub.
        var cursors: [Int32: Int64] = [:]
        /// Per channel, the last position delivered: offset n is delivered only after n−1.
        var lastDelivered: [ChannelName: StreamPosition] = [:]
        var waiters: [Waiter] = []
        /// Whether the reader's connection works; publishers do not wait for a reader that cannot read.
        var connected = false
        /// Callers waiting for `connected` to become a value.
        var availabilityWaiters: [(wanted: Bool, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private struct Waiter {
        var shard: Int32
        var id: Int64
        var continuation: CheckedContinuation<Void, Never>
    }

    /// Channels whose last delivered position is remembered at most; past it the memory starts over (the reader reads
    /// each shard in commit order, so the guard is a second line, not the first).
    static let maxRememberedChannels = 100_000

    private let state = NIOLockedValueBox(State())
    let wake = WakeSignal()

    var isConnected: Bool { state.withLockedValue { $0.connected } }
    var hasCursors: Bool { state.withLockedValue { !$0.cursors.isEmpty } }

    /// Shards and the id after which to read each.
    func cursorArrays() -> (shards: [Int32], after: [Int64]) {
        state.withLockedValue { state in
            let sorted = state.cursors.sorted { $0.key < $1.key }
            return (sorted.map(\.key), sorted.map(\.value))
        }
    }

    /// Sets where reading starts (at start: every shard's committed top) or, after a reconnect, moves a cursor back
    /// when the database is behind it (a failover lost the tail): rows with those ids will be new ones.
    /// - Returns: the shards whose cursor moved back.
    @discardableResult
    func adopt(tops: [Int32: Int64]) -> [Int32] {
        state.withLockedValue { state in
            guard !state.cursors.isEmpty else {
                state.cursors = tops
                return []
            }
            var movedBack: [Int32] = []
            for (shard, top) in tops {
                if let cursor = state.cursors[shard], cursor <= top { continue }
                if state.cursors[shard] != nil { movedBack.append(shard) }
                state.cursors[shard] = top
            }
            return movedBack
        }
    }

    /// What the gap guard says about the next publication of its channel.
    enum Admission: Equatable {
        /// The next offset (or the first seen, or another epoch): deliver.
        case deliver
        /// Already delivered: skip.
        case duplicate
        /// Offsets after `after` and before this one are missing: fill them from the table first.
        case gap(after: UInt64)
    }

    func admission(of publication: Publication) -> Admission {
        state.withLockedValue { state in
            guard let last = state.lastDelivered[publication.channel], last.epoch == publication.epoch else { return .deliver }
            if publication.offset <= last.offset { return .duplicate }
            if publication.offset == last.offset + 1 { return .deliver }
            return .gap(after: last.offset)
        }
    }

    func delivered(_ publication: Publication) {
        state.withLockedValue { state in
            if state.lastDelivered.count >= Self.maxRememberedChannels, state.lastDelivered[publication.channel] == nil {
                state.lastDelivered = [:]
            }
            state.lastDelivered[publication.channel] = publication.position
        }
    }

    /// Moves a shard's cursor and resumes the publishers whose row is now delivered.
    func advance(shard: Int32, to id: Int64) {
        let ready = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            if id > state.cursors[shard, default: 0] { state.cursors[shard] = id }
            var ready: [CheckedContinuation<Void, Never>] = []
            state.waiters.removeAll { waiter in
                guard waiter.shard == shard, waiter.id <= id else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// Returns once this node's hub has the row (shard, id), or at once when the reader is not connected: the row is
    /// committed and will be delivered when the reader is back, so the publisher need not wait for that.
    func waitUntilDelivered(shard: Int32, id: Int64) async {
        await withCheckedContinuation { continuation in
            let now = state.withLockedValue { state -> Bool in
                guard state.connected, state.cursors[shard, default: 0] < id else { return true }
                state.waiters.append(Waiter(shard: shard, id: id, continuation: continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    func setConnected(_ connected: Bool) {
        let released = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.connected = connected
            var released: [CheckedContinuation<Void, Never>] = []
            state.availabilityWaiters.removeAll { waiter in
                guard waiter.wanted == connected else { return false }
                released.append(waiter.continuation)
                return true
            }
            guard !connected else { return released }
            defer { state.waiters = [] }
            return released + state.waiters.map(\.continuation)
        }
        for continuation in released { continuation.resume() }
    }

    /// Returns once the reader's connection works (`true`) or has failed (`false`).
    func waitUntilConnected(_ wanted: Bool) async {
        await withCheckedContinuation { continuation in
            let now = state.withLockedValue { state -> Bool in
                guard state.connected != wanted else { return true }
                state.availabilityWaiters.append((wanted, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }
}

/// Wakes the reader: a NOTIFY arrived, a publish on this node committed, or the poll interval passed. A wake-up that
/// comes while the reader is busy is kept (one), so the next wait returns at once.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = NIOLockedValueBox(State())

    func signal() {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns on the next signal (or a pending one), after `timeout`, or when the task is cancelled.
    func wait(timeout: Duration) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLockedValue { state -> Bool in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if resumeNow {
                    continuation.resume()
                    return
                }
                // A timer that signals: a late one only leaves a pending wake-up, which costs one early poll.
                let (seconds, attoseconds) = timeout.components
                let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [self] in signal() }
            }
        } onCancel: {
            signal()
        }
    }
}

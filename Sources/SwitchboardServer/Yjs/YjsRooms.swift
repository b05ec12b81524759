import Logging
import NIOConcurrencyHelpers
import NIOCore
import SwitchboardBroker
import SwitchboardCore
import SwitchboardYjs

/// The Yjs rooms this server holds: in memory while they have connections, and, when the engine stores rooms (the
/// SQLite engine, ``YjsRoomStore``), loaded from it on first use, written to it as their logs change, and dropped from
/// memory after `yjs.room_idle_ms` without a connection (docs/yjs.md).
///
/// A class shared by every connection; each room has its own lock, so rooms on different event loops never wait for
/// each other. Lock order: the map, then a room, then the persistence's backlog.
final class YjsRooms: Sendable {
    /// A room in memory, or being read from the engine for the connections waiting for it.
    private enum Entry {
        case ready(YjsRoom)
        case loading(waiters: [@Sendable (Result<YjsRoom, EngineError>) -> Void])
    }

    private let entries = NIOLockedValueBox<[ChannelName: Entry]>([:])
    private let storage = NIOLockedValueBox<YjsPersistence?>(nil)

    init() {}

    /// Stores rooms in `store` from now on (set once, before the server accepts connections). Reads and waits for
    /// writes have the deadline `callTimeout`; `observer` is told of each, as of every engine call.
    func attach(store: any YjsRoomStore, callTimeout: Duration, observer: DeadlineBroker.CallObserver? = nil, logger: Logger) {
        storage.withLockedValue { $0 = YjsPersistence(store: store, callTimeout: callTimeout, observer: observer, logger: logger) }
    }

    /// Writes what is queued and lets go of the store (at shutdown, before the engine stops).
    func detachStore() async {
        let persistence = storage.withLockedValue { storage in
            defer { storage = nil }
            return storage
        }
        await persistence?.finish()
    }

    /// The room for `name` when it is in memory (made at once when the engine does not store rooms). Otherwise nil,
    /// and `whenLoaded` is called, on another thread, once the room's log was read from the engine, or with the
    /// ``EngineError`` (a timeout past `engine.call_timeout_ms`) that kept it from being read. Connections that ask for
    /// a room while it loads share the one read.
    func open(
        _ name: ChannelName, options: NamespaceOptions, whenLoaded: @escaping @Sendable (Result<YjsRoom, EngineError>) -> Void
    ) -> YjsRoom? {
        let persistence = storage.withLockedValue { $0 }
        enum Next {
            case ready(YjsRoom)
            case wait
            case load
        }
        let next = entries.withLockedValue { entries -> Next in
            switch entries[name] {
            case .ready(let room):
                return .ready(room)
            case .loading(let waiters):
                entries[name] = .loading(waiters: waiters + [whenLoaded])
                return .wait
            case nil:
                guard persistence != nil else {
                    let room = YjsRoom(name: name.description, options: options)
                    entries[name] = .ready(room)
                    return .ready(room)
                }
                entries[name] = .loading(waiters: [whenLoaded])
                return .load
            }
        }
        switch next {
        case .ready(let room): return room
        case .wait: return nil
        case .load: break
        }
        guard let persistence else { return nil }
        Task {
            let result = await persistence.load(name.description)
            self.finishLoading(name, options: options, persistence: persistence, result)
        }
        return nil
    }

    private func finishLoading(
        _ name: ChannelName, options: NamespaceOptions, persistence: YjsPersistence, _ result: Result<[[UInt8]], EngineError>
    ) {
        let (waiters, outcome) = entries.withLockedValue {
            entries -> ([@Sendable (Result<YjsRoom, EngineError>) -> Void], Result<YjsRoom, EngineError>) in
            guard case .loading(let waiters) = entries[name] else { return ([], .failure(EngineError(.internal, operation: "yjs_load"))) }
            switch result {
            case .success(let log):
                let room = YjsRoom(name: name.description, options: options, log: log, persistence: persistence)
                entries[name] = .ready(room)
                return (waiters, .success(room))
            case .failure(let error):
                // Not kept: the next connection tries again.
                entries[name] = nil
                return (waiters, .failure(error))
            }
        }
        for waiter in waiters { waiter(outcome) }
    }

    /// Drops from memory the rooms that have had no connection since `cutoff` and whose log the engine holds in full
    /// (nothing queued, no failed write); with the memory engine rooms are never dropped. Returns how many went.
    @discardableResult
    func evictIdle(since cutoff: NIODeadline) -> Int {
        guard let persistence = storage.withLockedValue({ $0 }) else { return 0 }
        return entries.withLockedValue { entries in
            var evicted: [ChannelName] = []
            for (name, entry) in entries {
                guard case .ready(let room) = entry, room.evictIfIdle(since: cutoff, settled: { persistence.isSettled(room.name) }) else { continue }
                evicted.append(name)
            }
            for name in evicted { entries[name] = nil }
            return evicted.count
        }
    }

    /// The room for `name` if it is in memory (tests and the admin view).
    func existingRoom(_ name: ChannelName) -> YjsRoom? {
        entries.withLockedValue {
            guard case .ready(let room) = $0[name] else { return nil }
            return room
        }
    }
}

/// One Yjs document: its update log (appended to, compacted into one merged update), the connections editing it and
/// their awareness states.
///
/// The log only ever holds updates that decoded (`YUpdate`), so compaction and diffs cannot fail on stored bytes. All
/// state changes and the hand-over of messages to peers happen under the room's lock: every peer gets the room's
/// updates in the order the log has them, and a peer that joins gets either an update in its first state or later
/// as a message, never neither.
final class YjsRoom: Sendable {
    /// A connection in the room: how to hand it a message (on its own event loop).
    struct Peer: Sendable {
        let id: Int
        let deliver: @Sendable ([UInt8]) -> Void
    }

    /// Why an update was not stored.
    enum Refusal: Error, Equatable {
        /// The document would grow past `yjs_max_document_bytes`.
        case documentTooLarge
    }

    private struct AwarenessEntry {
        var clock: UInt64
        var state: [UInt8]
        /// The peer whose connection set it; its entries are removed (state `null`) when it leaves.
        var owner: Int
    }

    private struct State {
        var log: [[UInt8]] = []
        var logBytes = 0
        var updatesSinceCompaction = 0
        var bytesSinceCompaction = 0
        var compactions = 0
        var peers: [Int: Peer] = [:]
        var nextPeerID = 0
        var awareness: [UInt64: AwarenessEntry] = [:]
        /// When the last peer left (or the room was made); nil while it has peers.
        var idleSince: NIODeadline? = .now()
        /// Dropped from memory: joining it is refused, the connection opens the room anew.
        var evicted = false
    }

    let name: String
    let options: NamespaceOptions
    private let state: NIOLockedValueBox<State>
    /// Where the room's log is stored; nil with the memory engine.
    let persistence: YjsPersistence?

    init(name: String, options: NamespaceOptions, log: [[UInt8]] = [], persistence: YjsPersistence? = nil) {
        self.name = name
        self.options = options
        self.persistence = persistence
        var state = State()
        state.log = log
        state.logBytes = log.reduce(0) { $0 + $1.count }
        self.state = NIOLockedValueBox(state)
    }

    /// What a joining connection starts from.
    struct Welcome {
        let peerID: Int
        /// The room's state vector, for the server's sync step 1.
        let stateVector: [UInt8]
        /// Every known awareness state, as one awareness update (nil when there is none).
        let awareness: [UInt8]?
    }

    /// Adds a connection to the room; nil when the room was dropped from memory meanwhile (open it again).
    func join(deliver: @escaping @Sendable ([UInt8]) -> Void) -> Welcome? {
        state.withLockedValue { state in
            guard !state.evicted else { return nil }
            state.idleSince = nil
            let id = state.nextPeerID
            state.nextPeerID += 1
            state.peers[id] = Peer(id: id, deliver: deliver)
            return Welcome(peerID: id, stateVector: self.stateVector(&state), awareness: Self.awarenessUpdate(state.awareness))
        }
    }

    /// Removes a connection; its awareness states go to the others as removed (`null`, clock + 1).
    func leave(_ peerID: Int) {
        state.withLockedValue { state in
            guard state.peers.removeValue(forKey: peerID) != nil else { return }
            if state.peers.isEmpty { state.idleSince = .now() }
            let owned = state.awareness.filter { $0.value.owner == peerID }
            guard !owned.isEmpty else { return }
            var removals: [YjsAwarenessUpdate.Entry] = []
            for (clientID, entry) in owned.sorted(by: { $0.key < $1.key }) {
                state.awareness[clientID] = nil
                removals.append(YjsAwarenessUpdate.Entry(clientID: clientID, clock: entry.clock + 1, state: Array("null".utf8)))
            }
            let message = YjsSyncMessage.encodeAwareness(YjsAwarenessUpdate(entries: removals).encoded())
            for peer in state.peers.values { peer.deliver(message) }
        }
    }

    /// Answers a sync step 1: what of the document a peer with `stateVector` lacks (one update, or one per stored
    /// update in the rare case the log cannot be merged), and the room's own state vector.
    func answerSyncStep1(_ stateVector: YStateVector) -> (diffs: [[UInt8]], stateVector: [UInt8]) {
        state.withLockedValue { state in
            let ownStateVector = self.stateVector(&state)
            // Stored updates all decoded when they were accepted, and merges of them decode.
            let diffs = self.documentUpdates(&state).compactMap { try? YUpdate(decoding: $0).diff(against: stateVector) }
            return (diffs, ownStateVector)
        }
    }

    /// Stores an update that decoded and hands it to every other peer; refused, and nothing stored, when the
    /// document would grow past its limit.
    func apply(_ update: [UInt8], from peerID: Int) throws(Refusal) {
        let refusal: Refusal? = state.withLockedValue { state in
            if state.logBytes + update.count > options.yjsMaxDocumentBytes {
                // The log may hold updates a merge makes smaller: compact before judging.
                _ = self.documentUpdates(&state)
                if state.logBytes + update.count > options.yjsMaxDocumentBytes {
                    let merged = (try? YUpdate.merge(encoded: state.log + [update])) ?? []
                    guard !merged.isEmpty, merged.count <= options.yjsMaxDocumentBytes else { return .documentTooLarge }
                }
            }
            state.log.append(update)
            persistence?.enqueue(.append(room: name, update: update))
            state.logBytes += update.count
            state.updatesSinceCompaction += 1
            state.bytesSinceCompaction += update.count
            let message = YjsSyncMessage.encodeUpdate(update)
            for peer in state.peers.values where peer.id != peerID { peer.deliver(message) }
            if state.updatesSinceCompaction >= options.yjsCompactAfterUpdates || state.bytesSinceCompaction >= options.yjsCompactAfterBytes {
                _ = self.documentUpdates(&state)
            }
            return nil
        }
        if let refusal { throw refusal }
    }

    /// Records a peer's awareness states and hands the message to the other peers as it came.
    func relayAwareness(_ update: YjsAwarenessUpdate, message: [UInt8], from peerID: Int) {
        state.withLockedValue { state in
            for entry in update.entries {
                if entry.isRemoval {
                    state.awareness[entry.clientID] = nil
                } else if entry.clock >= state.awareness[entry.clientID]?.clock ?? 0 {
                    state.awareness[entry.clientID] = AwarenessEntry(clock: entry.clock, state: entry.state, owner: peerID)
                }
            }
            for peer in state.peers.values where peer.id != peerID { peer.deliver(message) }
        }
    }

    /// Marks the room dropped from memory when it has had no peer since `cutoff` and `settled()` (the engine holds its
    /// whole log); then no one can join it any more.
    func evictIfIdle(since cutoff: NIODeadline, settled: () -> Bool) -> Bool {
        state.withLockedValue { state in
            guard state.peers.isEmpty, let idleSince = state.idleSince, idleSince <= cutoff, settled() else { return false }
            state.evicted = true
            return true
        }
    }

    /// Every known awareness state as one awareness update (the answer to query-awareness).
    func awarenessSnapshot() -> [UInt8]? {
        state.withLockedValue { Self.awarenessUpdate($0.awareness) }
    }

    /// The room's whole document as one update (compacting the log); nil in the rare case the log cannot be merged.
    func document() -> [UInt8]? {
        state.withLockedValue { state in
            let updates = self.documentUpdates(&state)
            return updates.count == 1 ? updates[0] : nil
        }
    }

    /// The log's shape, for tests and metrics.
    var logStatistics: (updates: Int, bytes: Int, compactions: Int, peers: Int) {
        state.withLockedValue { ($0.log.count, $0.logBytes, $0.compactions, $0.peers.count) }
    }

    /// Replaces the log with its merge (when it holds more than one update) and returns the document: one update,
    /// or the log as it is when a merge refuses it (`inconsistentStructs`: structs no Yjs peer writes, which a
    /// crafted client could still send; peers can apply the updates one by one).
    private func documentUpdates(_ state: inout State) -> [[UInt8]] {
        if state.log.isEmpty { return [YUpdate.emptyEncoding] }
        if state.log.count > 1 {
            guard let merged = try? YUpdate.merge(encoded: state.log) else { return state.log }
            persistence?.enqueue(.compact(room: name, count: state.log.count, merged: merged))
            state.log = [merged]
            state.logBytes = merged.count
            state.compactions += 1
        }
        state.updatesSinceCompaction = 0
        state.bytesSinceCompaction = 0
        return state.log
    }

    /// The document's state vector: clients' clocks over every stored update.
    private func stateVector(_ state: inout State) -> [UInt8] {
        let updates = documentUpdates(&state)
        if updates.count == 1 { return (try? YUpdate(decoding: updates[0]).stateVector.encoded()) ?? [0] }
        // Unmergeable log: claim nothing, so peers send everything they have (harmless duplicates).
        return [0]
    }

    private static func awarenessUpdate(_ awareness: [UInt64: AwarenessEntry]) -> [UInt8]? {
        guard !awareness.isEmpty else { return nil }
        let entries = awareness.sorted { $0.key < $1.key }.map {
            YjsAwarenessUpdate.Entry(clientID: $0.key, clock: $0.value.clock, state: $0.value.state)
        }
        return YjsSyncMessage.encodeAwareness(YjsAwarenessUpdate(entries: entries).encoded())
    }
}

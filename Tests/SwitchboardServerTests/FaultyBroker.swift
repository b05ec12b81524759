import NIOConcurrencyHelpers
import NIOCore
import SwitchboardBroker
import SwitchboardCore

/// A test double behind the `Broker` protocol: the in-memory engine, with any operation made to hang, fail or wait
/// for the test, and every call's start and end reported in order. It also stores Yjs rooms (`yjs_load`,
/// `yjs_append`, `yjs_compact`), in memory.
final class FaultyBroker: Broker {
    enum Behaviour: Sendable {
        case normal
        /// Never answers and ignores cancellation (a stuck database call), until ``releaseHangs()``.
        case hang
        case fail(EngineError.Kind)
        /// Waits until the test calls ``open(_:)`` for this operation.
        case gated
    }

    private let inner: MemoryBroker
    private let behaviours = NIOLockedValueBox<[String: Behaviour]>([:])
    private let gates = NIOLockedValueBox<[String: [CheckedContinuation<Void, Never>]]>([:])
    private let opened = NIOLockedValueBox<Set<String>>([])
    /// The stored Yjs rooms' logs, by room.
    let yjsLogs = NIOLockedValueBox<[String: [[UInt8]]]>([:])
    /// How many times a Yjs room was read.
    let yjsLoads = NIOLockedValueBox(0)
    /// "start <operation>" and "end <operation>" for every call, in the order they happened.
    let events: AsyncStream<String>
    private let eventSink: AsyncStream<String>.Continuation

    init(policy: @escaping @Sendable (ChannelName) -> HistoryPolicy = { _ in HistoryPolicy(capacity: 100, ttl: nil) }) {
        inner = MemoryBroker(policy: policy, sweepInterval: nil)
        (events, eventSink) = AsyncStream<String>.makeStream()
    }

    func set(_ operation: String, _ behaviour: Behaviour) {
        behaviours.withLockedValue { $0[operation] = behaviour }
    }

    func open(_ operation: String) {
        let waiting = gates.withLockedValue { gates in
            opened.withLockedValue { _ = $0.insert(operation) }
            defer { gates[operation] = nil }
            return gates[operation] ?? []
        }
        for continuation in waiting { continuation.resume() }
    }

    func releaseHangs() { open(Self.hangGate) }

    private func around<T>(_ operation: String, _ body: () async throws -> T) async throws -> T {
        eventSink.yield("start \(operation)")
        defer { eventSink.yield("end \(operation)") }
        switch behaviours.withLockedValue({ $0[operation] }) ?? .normal {
        case .normal:
            break
        case .hang:
            // A continuation ignores cancellation, as a stuck driver call does.
            await wait(for: Self.hangGate)
            throw EngineError(.unavailable, operation: operation, detail: "released after hanging")
        case .fail(let kind):
            throw EngineError(kind, operation: operation, detail: "injected")
        case .gated:
            await wait(for: operation)
        }
        return try await body()
    }

    private static let hangGate = "(hang)"

    private func wait(for gate: String) async {
        await withCheckedContinuation { continuation in
            let runNow = gates.withLockedValue { gates in
                if opened.withLockedValue({ $0.contains(gate) }) { return true }
                gates[gate, default: []].append(continuation)
                return false
            }
            if runNow { continuation.resume() }
        }
    }

    func attach(sink: any PublicationSink) {
        self.sink.withLockedValue { $0 = sink }
        inner.attach(sink: InterceptingSink(broker: self, sink: sink))
    }

    /// What a shared engine can do to live delivery: publications for which `withholds` is true reach history but
    /// never the hub (a lost notification).
    let withholds = NIOLockedValueBox<@Sendable (Publication) -> Bool>({ _ in false })
    private let sink = NIOLockedValueBox<(any PublicationSink)?>(nil)
    /// What `isAvailable` answers (a database that is down, a full disk).
    let available = NIOLockedValueBox(true)
    var isAvailable: Bool { available.withLockedValue { $0 } }

    /// Hands a publication to the hub as if the engine had delivered it (another epoch, an offset from nowhere).
    func deliverToHub(_ publication: Publication) {
        sink.withLockedValue { $0 }?.deliver(publication)
    }

    private struct InterceptingSink: PublicationSink {
        let broker: FaultyBroker
        let sink: any PublicationSink
        func deliver(_ publication: Publication) {
            if !broker.withholds.withLockedValue({ $0 })(publication) { sink.deliver(publication) }
        }
        func deliver(event: EphemeralEvent) { sink.deliver(event: event) }
        func hasSubscribers(_ channel: ChannelName) -> Bool { sink.hasSubscribers(channel) }
        func apply(control command: ControlCommand) { sink.apply(control: command) }
    }
    /// Hanging calls are released when the server stops, so its shutdown never waits on them.
    func run() async throws {
        defer { releaseHangs() }
        try await inner.run()
    }
    func publish(_ request: PublishRequest) async throws -> PublishResult { try await around("publish") { try await inner.publish(request) } }
    func recover(channel: ChannelName, since: StreamPosition?, limit: Int) async throws -> Recovery {
        try await around("recover") { try await inner.recover(channel: channel, since: since, limit: limit) }
    }
    func history(channel: ChannelName, after: UInt64, limit: Int) async throws -> (position: StreamPosition, publications: [Publication]) {
        try await around("history") { try await inner.history(channel: channel, after: after, limit: limit) }
    }
    func presenceJoin(_ member: PresenceMember, channel: ChannelName, announce: Bool) async throws -> Bool {
        try await around("presence_join") { try await inner.presenceJoin(member, channel: channel, announce: announce) }
    }
    func presenceLeave(client: String, channel: ChannelName, announce: Bool) async throws {
        try await around("presence_leave") { try await inner.presenceLeave(client: client, channel: channel, announce: announce) }
    }
    func presenceUpdate(client: String, info: ByteBuffer?, channel: ChannelName, announce: Bool) async throws -> Bool {
        try await around("presence_update") { try await inner.presenceUpdate(client: client, info: info, channel: channel, announce: announce) }
    }
    func presence(channel: ChannelName, after cursor: String?, limit: Int) async throws -> PresencePage {
        try await around("presence") { try await inner.presence(channel: channel, after: cursor, limit: limit) }
    }
    func broadcast(_ command: ControlCommand) async throws { try await around("broadcast") { try await inner.broadcast(command) } }
    func acknowledge(channel: ChannelName, offset: UInt64, user: String, status: ReceiptRecord.Status) async throws -> Bool {
        try await around("acknowledge") { try await inner.acknowledge(channel: channel, offset: offset, user: user, status: status) }
    }
    func receipts(channel: ChannelName, offset: UInt64) async throws -> ReceiptRecord? {
        try await around("receipts") { try await inner.receipts(channel: channel, offset: offset) }
    }
    func signal(_ event: EphemeralEvent) async throws { try await around("signal") { try await inner.signal(event) } }
}

extension FaultyBroker: YjsRoomStore {
    func loadYjsRoom(_ room: String) async throws -> [[UInt8]] {
        yjsLoads.withLockedValue { $0 += 1 }
        return try await around("yjs_load") { yjsLogs.withLockedValue { $0[room] ?? [] } }
    }

    func appendYjsUpdate(_ update: [UInt8], to room: String) async throws {
        try await around("yjs_append") { yjsLogs.withLockedValue { $0[room, default: []].append(update) } }
    }

    func compactYjsRoom(_ room: String, first count: Int, into merged: [UInt8]) async throws {
        try await around("yjs_compact") {
            yjsLogs.withLockedValue { logs in
                guard let log = logs[room], count > 0, count <= log.count else { return }
                logs[room] = [merged] + log.dropFirst(count)
            }
        }
    }
}

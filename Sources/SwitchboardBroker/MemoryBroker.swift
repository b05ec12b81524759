import NIOConcurrencyHelpers
import ServiceLifecycle
public import SwitchboardCore

/// The embedded single-node engine: channels and their history windows live in this process.
///
/// Every channel has its own lock. A publication is assigned its offset and handed to the sink under that lock, so
/// the hub sees each channel's publications in offset order even when many threads publish at once. History does not
/// survive a restart: a new process gives every channel a new epoch, and clients learn that recovery is impossible.
///
/// **Idle channels are forgotten.** A channel whose publications have all expired, that remembers no idempotency key
/// and no receipt, and that nobody on this node subscribes to, holds nothing anyone can ask for except its position;
/// a periodic sweep (``reclaimIdleChannels()``) drops it, so names used once cost nothing for ever. Forgetting a
/// position must never turn into a silent gap, so every sweep that forgets something also moves the engine to a new
/// **generation epoch**: channels created (or read while absent) from then on carry it, and a client that comes back
/// with a position from before gets an explicit reset (`epoch changed`) rather than offsets that restarted.
public final class MemoryBroker: KeepsPresenceOnThisNode {
    private final class ChannelStream: Sendable {
        struct State {
            var window: HistoryWindow
            /// Receipt records by offset, pruned as publications leave the window.
            var receipts: [UInt64: ReceiptRecord] = [:]
            /// Set by the sweep when it forgets the stream: a publish that found it just before must look again.
            var reclaimed = false

            /// Drops records of publications the window no longer holds.
            mutating func pruneReceipts() {
                let oldest = window.oldestOffset ?? .max
                if receipts.keys.contains(where: { $0 < oldest }) { receipts = receipts.filter { $0.key >= oldest } }
            }
        }

        let state: NIOLockedValueBox<State>
        init(window: HistoryWindow) { self.state = NIOLockedValueBox(State(window: window)) }
    }

    private struct Streams {
        var byName: [ChannelName: ChannelStream] = [:]
        /// The epoch of channels created now; a new one after every sweep that forgot a channel.
        var generationEpoch: String
    }

    private let streams: NIOLockedValueBox<Streams>
    public let presenceRegistry = PresenceRegistry()
    private let sink = NIOLockedValueBox<(any PublicationSink)?>(nil)
    private let policy: @Sendable (ChannelName) -> HistoryPolicy
    private let now: @Sendable () -> UInt64
    private let makeEpoch: @Sendable () -> String
    private let sweepInterval: Duration?

    /// - Parameters:
    ///   - policy: history size and TTL for a channel (from its namespace).
    ///   - now: monotonic nanoseconds; injectable so TTL tests need no waiting.
    ///   - makeEpoch: makes epochs: one when the engine starts (a restart loses history), and one per sweep that forgot
    ///     a channel.
    ///   - sweepInterval: how often `run()` looks for idle channels; nil leaves it to callers of
    ///     ``reclaimIdleChannels()`` (tests).
    public init(
        policy: @escaping @Sendable (ChannelName) -> HistoryPolicy,
        now: @escaping @Sendable () -> UInt64 = { MonotonicTime.nanoseconds() },
        makeEpoch: @escaping @Sendable () -> String = { EpochGenerator.make() },
        sweepInterval: Duration? = .seconds(10)
    ) {
        self.policy = policy
        self.now = now
        self.makeEpoch = makeEpoch
        self.sweepInterval = sweepInterval
        self.streams = NIOLockedValueBox(Streams(generationEpoch: makeEpoch()))
    }

    public var attachedSink: (any PublicationSink)? { sink.withLockedValue { $0 } }

    public func attach(sink: any PublicationSink) {
        self.sink.withLockedValue { $0 = sink }
    }

    /// Sweeps idle channels every `sweepInterval` until graceful shutdown or cancellation; then delivers nothing more.
    public func run() async throws {
        defer { sink.withLockedValue { $0 = nil } }
        guard let interval = sweepInterval else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                guard (try? await Task.sleep(for: interval)) != nil else { return }
                self.reclaimIdleChannels()
            }
        }
    }

    /// Answers from memory under short locks: nothing to put a deadline on.
    public var callsMayBlock: Bool { false }

    /// Channels whose state is held now (published to and not yet forgotten).
    public var channelCount: Int { streams.withLockedValue { $0.byName.count } }

    /// Forgets every idle channel nobody subscribes to (see the type's documentation); returns how many went.
    @discardableResult
    public func reclaimIdleChannels() -> Int {
        let now = self.now()
        let sink = self.sink.withLockedValue { $0 }
        let reclaimed = streams.withLockedValue { streams in
            var idle: [ChannelName] = []
            for (name, stream) in streams.byName {
                let reclaimed = stream.state.withLockedValue { state in
                    guard state.window.isIdle(now: now) else { return false }
                    state.pruneReceipts()
                    guard state.receipts.isEmpty, !(sink?.hasSubscribers(name) ?? false) else { return false }
                    state.reclaimed = true
                    return true
                }
                if reclaimed { idle.append(name) }
            }
            guard !idle.isEmpty else { return 0 }
            for name in idle { streams.byName[name] = nil }
            if streams.byName.isEmpty { streams.byName = [:] }  // give the table's storage back after a wave
            streams.generationEpoch = makeEpoch()
            return idle.count
        }
        if reclaimed >= FreedMemory.worthReturning { FreedMemory.returnToSystem() }
        return reclaimed
    }

    public func publish(_ request: PublishRequest) async throws -> PublishResult {
        let sink = self.sink.withLockedValue { $0 }
        let recipients = request.receipts ? presenceRegistry.users(on: request.channel) : []
        let maxRecipients = request.receipts ? policy(request.channel).receiptsMaxRecipients : 0
        while true {
            let stream = self.stream(for: request.channel)
            let now = self.now()
            let result: PublishResult? = stream.state.withLockedValue { state in
                guard !state.reclaimed else { return nil }
                let (publication, isDuplicate) = state.window.publish(request, now: now)
                guard !isDuplicate else { return PublishResult(publication: publication, isDuplicate: true) }
                if request.receipts {
                    state.receipts[publication.offset] = ReceiptRecord(
                        publisher: publication.sender, recipients: recipients, maxRecipients: maxRecipients)
                    state.pruneReceipts()
                }
                sink?.deliver(publication)
                return PublishResult(publication: publication, isDuplicate: false)
            }
            // nil: the sweep forgot the stream between the lookup and the lock; the next lookup makes a new one.
            if let result { return result }
        }
    }

    public func recover(channel: ChannelName, since: StreamPosition?, limit: Int) async throws -> Recovery {
        let now = self.now()
        switch lookup(channel) {
        case .absent(let epoch):
            var empty = HistoryWindow(epoch: epoch, capacity: 0, ttlNanoseconds: nil)
            return empty.recover(since: since, limit: limit, now: now)
        case .present(let stream):
            return stream.state.withLockedValue { $0.window.recover(since: since, limit: limit, now: now) }
        }
    }

    public func history(channel: ChannelName, after: UInt64, limit: Int) async throws -> (position: StreamPosition, publications: [Publication]) {
        let now = self.now()
        switch lookup(channel) {
        case .absent(let epoch):
            return (StreamPosition(epoch: epoch, offset: 0), [])
        case .present(let stream):
            return stream.state.withLockedValue { state in
                (state.window.position, state.window.read(after: after, limit: limit, now: now))
            }
        }
    }

    public func acknowledge(channel: ChannelName, offset: UInt64, user: String, status: ReceiptRecord.Status) async throws -> Bool {
        guard let stream = existingStream(for: channel) else { return false }
        let sink = self.sink.withLockedValue { $0 }
        return stream.state.withLockedValue { state in
            state.pruneReceipts()
            // In place, for the same reason as presence: a record holds every recipient.
            guard state.receipts[offset] != nil else { return false }
            let change = state.receipts[offset]!.acknowledge(user: user, status: status)
            if let change, let publisher = state.receipts[offset]!.publisher {
                sink?.deliver(event: .receipt(channel: channel, offset: offset, user: user, status: change, publisher: publisher))
            }
            return true
        }
    }

    public func receipts(channel: ChannelName, offset: UInt64) async throws -> ReceiptRecord? {
        guard let stream = existingStream(for: channel) else { return nil }
        return stream.state.withLockedValue { state in
            state.pruneReceipts()
            return state.receipts[offset]
        }
    }

    private enum Lookup {
        case present(ChannelStream)
        /// No state: the channel reads as empty at offset 0 of the current generation's epoch.
        case absent(epoch: String)
    }

    private func lookup(_ channel: ChannelName) -> Lookup {
        streams.withLockedValue { streams in
            streams.byName[channel].map(Lookup.present) ?? .absent(epoch: streams.generationEpoch)
        }
    }

    private func existingStream(for channel: ChannelName) -> ChannelStream? {
        streams.withLockedValue { $0.byName[channel] }
    }

    private func stream(for channel: ChannelName) -> ChannelStream {
        if let existing = existingStream(for: channel) { return existing }
        let policy = self.policy(channel)
        return streams.withLockedValue { streams in
            if let raced = streams.byName[channel] { return raced }
            let fresh = ChannelStream(
                window: HistoryWindow(
                    epoch: streams.generationEpoch, capacity: policy.capacity, ttlNanoseconds: policy.ttlNanoseconds,
                    idempotency: policy.idempotencyWindow))
            streams.byName[channel] = fresh
            return fresh
        }
    }
}

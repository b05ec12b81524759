import NIOConcurrencyHelpers
public import SwitchboardCore

/// The embedded single-node engine: channels and their history windows live in this process.
///
/// Every channel has its own lock. A publication is assigned its offset and handed to the sink under that lock, so
/// the hub sees each channel's publications in offset order even when many threads publish at once. History does not
/// survive a restart: a new process gives every channel a new epoch, and clients learn that recovery is impossible.
public final class MemoryBroker: Broker {
    private final class ChannelStream: Sendable {
        let window: NIOLockedValueBox<HistoryWindow>
        /// Receipt records by offset, pruned as publications leave the window.
        let receipts = NIOLockedValueBox<[UInt64: ReceiptRecord]>([:])
        init(window: HistoryWindow) { self.window = NIOLockedValueBox(window) }

        /// Drops records of publications the window no longer holds.
        func pruneReceipts() {
            let oldest = window.withLockedValue { $0.oldestOffset } ?? .max
            receipts.withLockedValue { records in
                if records.keys.contains(where: { $0 < oldest }) { records = records.filter { $0.key >= oldest } }
            }
        }
    }

    private let streams = NIOLockedValueBox<[ChannelName: ChannelStream]>([:])
    /// Presence per channel; a channel's entry goes when its last member leaves.
    private let presenceTables = NIOLockedValueBox<[ChannelName: PresenceTable]>([:])
    private let sink = NIOLockedValueBox<(any PublicationSink)?>(nil)
    private let policy: @Sendable (ChannelName) -> HistoryPolicy
    private let now: @Sendable () -> UInt64
    /// The epoch of every channel this process creates. Reads of a channel nobody has published to answer with it
    /// and offset 0 without creating state (so arbitrary names cost no memory), and the first publish then continues
    /// that same stream.
    private let instanceEpoch: String

    /// - Parameters:
    ///   - policy: history size and TTL for a channel (from its namespace).
    ///   - now: monotonic nanoseconds; injectable so TTL tests need no waiting.
    ///   - makeEpoch: makes this engine instance's epoch (a restart loses history, so it gets a new one).
    public init(
        policy: @escaping @Sendable (ChannelName) -> HistoryPolicy,
        now: @escaping @Sendable () -> UInt64 = { MonotonicTime.nanoseconds() },
        makeEpoch: @escaping @Sendable () -> String = { EpochGenerator.make() }
    ) {
        self.policy = policy
        self.now = now
        self.instanceEpoch = makeEpoch()
    }

    public func start(sink: any PublicationSink) async throws {
        self.sink.withLockedValue { $0 = sink }
    }

    public func publish(_ request: PublishRequest) async throws -> Publication {
        let stream = self.stream(for: request.channel)
        let sink = self.sink.withLockedValue { $0 }
        let now = self.now()
        let recipients = request.receipts ? presenceTables.withLockedValue { $0[request.channel]?.users ?? [] } : []
        let maxRecipients = request.receipts ? policy(request.channel).receiptsMaxRecipients : 0
        let publication = stream.window.withLockedValue { window in
            let (publication, isDuplicate) = window.publish(request, now: now)
            guard !isDuplicate else { return publication }
            if request.receipts {
                let record = ReceiptRecord(publisher: publication.sender, recipients: recipients, maxRecipients: maxRecipients)
                stream.receipts.withLockedValue { $0[publication.offset] = record }
            }
            sink?.deliver(publication)
            return publication
        }
        if request.receipts { stream.pruneReceipts() }
        return publication
    }

    public func recover(channel: ChannelName, since: StreamPosition?, limit: Int) async throws -> Recovery {
        let now = self.now()
        guard let stream = existingStream(for: channel) else {
            var empty = HistoryWindow(epoch: instanceEpoch, capacity: 0, ttlNanoseconds: nil)
            return empty.recover(since: since, limit: limit, now: now)
        }
        return stream.window.withLockedValue { $0.recover(since: since, limit: limit, now: now) }
    }

    public func history(channel: ChannelName, after: UInt64, limit: Int) async throws -> (position: StreamPosition, publications: [Publication]) {
        let now = self.now()
        guard let stream = existingStream(for: channel) else {
            return (StreamPosition(epoch: instanceEpoch, offset: 0), [])
        }
        return stream.window.withLockedValue { window in
            (window.position, window.read(after: after, limit: limit, now: now))
        }
    }

    public func presenceJoin(_ member: PresenceMember, channel: ChannelName, announce: Bool) async throws -> Bool {
        let sink = self.sink.withLockedValue { $0 }
        return presenceTables.withLockedValue { tables in
            guard tables[channel, default: PresenceTable()].join(member) else { return false }
            // Under the lock, so a join and the leave of the same client reach subscribers in that order.
            if announce { sink?.deliver(event: .presence(.join, channel: channel, member: member)) }
            return true
        }
    }

    public func presenceLeave(client: String, channel: ChannelName, announce: Bool) async throws {
        let sink = self.sink.withLockedValue { $0 }
        presenceTables.withLockedValue { tables in
            // In place: a copy taken out of the dictionary would copy every member on each leave (quadratic when a
            // crowd leaves at once).
            guard let member = tables[channel]?.leave(client: client) else { return }
            if tables[channel]?.isEmpty == true { tables[channel] = nil }
            if announce { sink?.deliver(event: .presence(.leave, channel: channel, member: member)) }
        }
    }

    public func presence(channel: ChannelName, after cursor: String?, limit: Int) async throws -> PresencePage {
        presenceTables.withLockedValue { tables in (tables[channel] ?? PresenceTable()).page(after: cursor, limit: limit) }
    }

    public func acknowledge(channel: ChannelName, offset: UInt64, user: String, status: ReceiptRecord.Status) async throws -> Bool {
        guard let stream = existingStream(for: channel) else { return false }
        stream.pruneReceipts()
        let sink = self.sink.withLockedValue { $0 }
        return stream.receipts.withLockedValue { records in
            // In place, for the same reason as presence: a record holds every recipient.
            guard records[offset] != nil else { return false }
            let change = records[offset]!.acknowledge(user: user, status: status)
            if let change, let publisher = records[offset]!.publisher {
                sink?.deliver(event: .receipt(channel: channel, offset: offset, user: user, status: change, publisher: publisher))
            }
            return true
        }
    }

    public func receipts(channel: ChannelName, offset: UInt64) async throws -> ReceiptRecord? {
        guard let stream = existingStream(for: channel) else { return nil }
        stream.pruneReceipts()
        return stream.receipts.withLockedValue { $0[offset] }
    }

    public func signal(_ event: EphemeralEvent) async throws {
        sink.withLockedValue { $0 }?.deliver(event: event)
    }

    public func shutdown() async {
        sink.withLockedValue { $0 = nil }
    }

    private func existingStream(for channel: ChannelName) -> ChannelStream? {
        streams.withLockedValue { $0[channel] }
    }

    private func stream(for channel: ChannelName) -> ChannelStream {
        if let existing = existingStream(for: channel) { return existing }
        let policy = self.policy(channel)
        let fresh = ChannelStream(
            window: HistoryWindow(
                epoch: instanceEpoch, capacity: policy.capacity, ttlNanoseconds: policy.ttlNanoseconds, idempotency: policy.idempotencyWindow))
        return streams.withLockedValue { streams in
            if let raced = streams[channel] { return raced }
            streams[channel] = fresh
            return fresh
        }
    }
}

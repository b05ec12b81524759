public import NIOCore
public import ServiceLifecycle
public import SwitchboardCore

/// Receives every publication an engine accepts — local ones and, for shared engines, other nodes' — in offset
/// order per channel.
public protocol PublicationSink: Sendable {
    /// Called once per publication, in order per channel. Must not block: the hub encodes and hands off.
    func deliver(_ publication: Publication)
    /// Called for presence joins/leaves and signals: for current subscribers only, never stored.
    func deliver(event: EphemeralEvent)
    /// Whether anyone on this node is subscribed to `channel`: an engine reclaims an idle channel's state only when
    /// nobody is (live subscribers track the channel's offsets, which a reclaimed channel would restart).
    func hasSubscribers(_ channel: ChannelName) -> Bool
    /// Called for an operator's order that another node received (``Broker/broadcast(_:)``): end or refuse this node's
    /// matching sessions and tokens.
    func apply(control command: ControlCommand)
}

extension PublicationSink {
    /// Sinks that cannot tell keep every channel.
    public func hasSubscribers(_ channel: ChannelName) -> Bool { true }
    /// Sinks without sessions have nothing to end.
    public func apply(control command: ControlCommand) {}
}

/// A pub/sub engine: assigns stream positions, keeps history, and fans publications in to the local hub.
///
/// The in-memory engine serves one node; the SQLite engine keeps history on disk; a shared engine (PostgreSQL) lets
/// several nodes behind a load balancer serve the same channels. Positions travel with clients, so no method needs
/// node-local session state.
///
/// **Lifecycle.** An engine is opened by its own factory (which fails at start with a clear error), given the sink
/// with ``attach(sink:)`` before any traffic, and run as a `Service` in the server's service group: `run()` does the
/// engine's background work (sweeps, trimming, a database client's connections) and returns after graceful shutdown
/// or cancellation with everything it accepted written. Calls work once the sink is attached; `run()` must be running
/// for engines whose calls need a client that runs there (PostgreSQL).
public protocol Broker: Service {
    /// The hub that receives publications and events. Called once, before any publish and before `run()`.
    func attach(sink: any PublicationSink)

    /// Assigns the next position on the channel, keeps the publication in history and delivers it to the sink. A
    /// publication that asks for receipts gets its receipt record (recipients: the users present on the channel,
    /// the publisher excluded) before any subscriber can see it; records live as long as the publication stays in
    /// the channel's history. A request whose idempotency key the channel remembers publishes nothing: the result is
    /// the original publication, marked as a duplicate.
    func publish(_ request: PublishRequest) async throws -> PublishResult

    /// Publishes `requests` in their order, each exactly as ``publish(_:)`` would, in as few round trips as the engine
    /// can (the SQLite engine: one transaction). Each request gets its own result.
    func publish(batch requests: [PublishRequest]) async -> [Result<PublishResult, any Error>]

    /// What a subscriber that last saw `since` is owed (see ``HistoryWindow/recover(since:limit:now:)``).
    func recover(channel: ChannelName, since: StreamPosition?, limit: Int) async throws -> Recovery

    /// Up to `limit` held publications after offset `after` (0 = from the oldest held), and the current position.
    func history(channel: ChannelName, after: UInt64, limit: Int) async throws -> (position: StreamPosition, publications: [Publication])

    /// Adds `member` to the channel's presence; true when it was not present yet. With `announce` the sink gets the
    /// `join` event (namespaces may turn join/leave pushes off).
    func presenceJoin(_ member: PresenceMember, channel: ChannelName, announce: Bool) async throws -> Bool

    /// Removes a client from the channel's presence; with `announce` the sink gets the `leave` event.
    func presenceLeave(client: String, channel: ChannelName, announce: Bool) async throws

    /// Replaces a present client's info on the channel; false when it is not present. With `announce` the sink gets
    /// the `presence_update` event.
    func presenceUpdate(client: String, info: ByteBuffer?, channel: ChannelName, announce: Bool) async throws -> Bool

    /// A page of the channel's members ordered by client id, after `cursor`.
    func presence(channel: ChannelName, after cursor: String?, limit: Int) async throws -> PresencePage

    /// Records a recipient's acknowledgement; when it changes the record, the publisher's sessions get a `receipt`
    /// event. False when no record exists (no receipts asked, or the publication left the history).
    func acknowledge(channel: ChannelName, offset: UInt64, user: String, status: ReceiptRecord.Status) async throws -> Bool

    /// The receipt record of a publication, nil when there is none.
    func receipts(channel: ChannelName, offset: UInt64) async throws -> ReceiptRecord?

    /// Delivers an ephemeral event to the channel's subscribers on every node.
    func signal(_ event: EphemeralEvent) async throws

    /// Carries an operator's order to the other nodes, whose sinks get it through ``PublicationSink/apply(control:)``
    /// (the caller applies it on this node itself). One-node engines have no one to tell. A shared engine keeps a
    /// revocation until it expires, so a node that starts or reconnects later still refuses the token.
    func broadcast(_ command: ControlCommand) async throws

    /// Whether the engine can accept publications now (`/readyz` answers 503 while it cannot: database unreachable,
    /// disk full).
    var isAvailable: Bool { get }

    /// Whether a call can wait on something outside the process (a database, the network). ``DeadlineBroker`` races
    /// such calls against their deadline in a task of their own; calls of an engine that answers from memory (locks
    /// only, never I/O) run inline, which spares two task hops per call on the publish path.
    var callsMayBlock: Bool { get }
}

/// An engine that takes a publication with a completion instead of an `async` call (its writer answers from a thread
/// of its own). ``DeadlineBroker`` then races it against the deadline without a task of its own and with one timer
/// for all calls: on a busy publish path every thread hop is a context switch.
public protocol SubmitsPublications: Sendable {
    /// Queues `request`; `completion` runs exactly once, on any thread, with what ``Broker/publish(_:)`` would return
    /// or throw.
    func submit(_ request: PublishRequest, completion: @escaping @Sendable (Result<PublishResult, any Error>) -> Void)
}

extension Broker {
    public var callsMayBlock: Bool { true }
    public func broadcast(_ command: ControlCommand) async throws {}
    public var isAvailable: Bool { true }

    /// One after the other: right for engines whose publish costs no round trip.
    public func publish(batch requests: [PublishRequest]) async -> [Result<PublishResult, any Error>] {
        var results: [Result<PublishResult, any Error>] = []
        results.reserveCapacity(requests.count)
        for request in requests {
            do {
                results.append(.success(try await publish(request)))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }
}

/// What a publish did: the publication with its position, and whether it was only a retry of an earlier one.
public struct PublishResult: Sendable {
    public var publication: Publication
    /// The request's idempotency key was already used within the channel's window: nothing new was published and
    /// `publication` is the original.
    public var isDuplicate: Bool

    public init(publication: Publication, isDuplicate: Bool) {
        self.publication = publication
        self.isDuplicate = isDuplicate
    }
}

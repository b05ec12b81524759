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
}

extension PublicationSink {
    /// Sinks that cannot tell keep every channel.
    public func hasSubscribers(_ channel: ChannelName) -> Bool { true }
}

/// A pub/sub engine: assigns stream positions, keeps history, and fans publications in to the local hub.
///
/// The in-memory engine serves one node; a shared engine (PostgreSQL) lets several nodes behind a load balancer serve
/// the same channels. Positions travel with clients, so no method needs node-local session state.
public protocol Broker: Sendable {
    /// Starts delivering publications to `sink`. Called once, before any publish.
    func start(sink: any PublicationSink) async throws

    /// Assigns the next position on the channel, keeps the publication in history and delivers it to the sink. A
    /// publication that asks for receipts gets its receipt record (recipients: the users present on the channel,
    /// the publisher excluded) before any subscriber can see it; records live as long as the publication stays in
    /// the channel's history.
    func publish(_ request: PublishRequest) async throws -> Publication

    /// What a subscriber that last saw `since` is owed (see ``HistoryWindow/recover(since:limit:now:)``).
    func recover(channel: ChannelName, since: StreamPosition?, limit: Int) async throws -> Recovery

    /// Up to `limit` held publications after offset `after` (0 = from the oldest held), and the current position.
    func history(channel: ChannelName, after: UInt64, limit: Int) async throws -> (position: StreamPosition, publications: [Publication])

    /// Adds `member` to the channel's presence; true when it was not present yet. With `announce` the sink gets the
    /// `join` event (namespaces may turn join/leave pushes off).
    func presenceJoin(_ member: PresenceMember, channel: ChannelName, announce: Bool) async throws -> Bool

    /// Removes a client from the channel's presence; with `announce` the sink gets the `leave` event.
    func presenceLeave(client: String, channel: ChannelName, announce: Bool) async throws

    /// A page of the channel's members ordered by client id, after `cursor`.
    func presence(channel: ChannelName, after cursor: String?, limit: Int) async throws -> PresencePage

    /// Records a recipient's acknowledgement; when it changes the record, the publisher's sessions get a `receipt`
    /// event. False when no record exists (no receipts asked, or the publication left the history).
    func acknowledge(channel: ChannelName, offset: UInt64, user: String, status: ReceiptRecord.Status) async throws -> Bool

    /// The receipt record of a publication, nil when there is none.
    func receipts(channel: ChannelName, offset: UInt64) async throws -> ReceiptRecord?

    /// Delivers an ephemeral event to the channel's subscribers on every node.
    func signal(_ event: EphemeralEvent) async throws

    /// Stops delivering; pending calls may fail afterwards.
    func shutdown() async

    /// Whether a call can wait on something outside the process (a database, the network). ``DeadlineBroker`` races
    /// such calls against their deadline in a task of their own; calls of an engine that answers from memory (locks
    /// only, never I/O) run inline, which spares two task hops per call on the publish path.
    var callsMayBlock: Bool { get }
}

extension Broker {
    public var callsMayBlock: Bool { true }
}

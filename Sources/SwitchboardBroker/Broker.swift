public import SwitchboardCore

/// Receives every publication an engine accepts — local ones and, for shared engines, other nodes' — in offset
/// order per channel.
public protocol PublicationSink: Sendable {
    /// Called once per publication, in order per channel. Must not block: the hub encodes and hands off.
    func deliver(_ publication: Publication)
}

/// A pub/sub engine: assigns stream positions, keeps history, and fans publications in to the local hub.
///
/// The in-memory engine serves one node; a shared engine (PostgreSQL) lets several nodes behind a load balancer serve
/// the same channels. Positions travel with clients, so no method needs node-local session state.
public protocol Broker: Sendable {
    /// Starts delivering publications to `sink`. Called once, before any publish.
    func start(sink: any PublicationSink) async throws

    /// Assigns the next position on the channel, keeps the publication in history and delivers it to the sink.
    func publish(_ request: PublishRequest) async throws -> Publication

    /// What a subscriber that last saw `since` is owed (see ``HistoryWindow/recover(since:limit:now:)``).
    func recover(channel: ChannelName, since: StreamPosition?, limit: Int) async throws -> Recovery

    /// Up to `limit` held publications after offset `after` (0 = from the oldest held), and the current position.
    func history(channel: ChannelName, after: UInt64, limit: Int) async throws -> (position: StreamPosition, publications: [Publication])

    /// Stops delivering; pending calls may fail afterwards.
    func shutdown() async
}

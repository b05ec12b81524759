/// An engine shared by several nodes says where each node takes the requests for the sessions it holds, so that any
/// node can forward a request of an SSE or long-poll session to the node holding it (no sticky sessions).
///
/// Session addresses made on a node start with its ``nodeID`` and a `-`; a node that gets a request for an address
/// of another node asks ``url(ofNode:)`` where to send it.
public protocol NodeDirectory: Sendable {
    /// This node's id: 16 characters of `[0-9A-Za-z]`, new at every start.
    var nodeID: String { get }
    /// Where the other nodes reach this one (`http://HOST:PORT`), known once the server listens; kept in the
    /// directory while this node is alive.
    func advertise(url: String)
    /// The URL a live node advertised; nil for a node that is not alive (never was, or stopped, or was taken for
    /// dead) or advertised none.
    func url(ofNode node: String) async throws -> String?
}

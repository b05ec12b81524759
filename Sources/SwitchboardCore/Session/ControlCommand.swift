/// An operator's order that must reach every node's sessions (`POST /api/disconnect`, `POST /api/revoke`): each node
/// applies it to the sessions it holds. A shared engine carries it to the other nodes.
public enum ControlCommand: Sendable, Equatable {
    /// Every session of the user ends with ``CloseCode/disconnectedReconnect`` or ``CloseCode/disconnected``.
    case disconnectUser(String, reconnect: Bool)
    /// The session with this client id ends, with the same codes.
    case disconnectClient(String, reconnect: Bool)
    /// Tokens with this `jti` are refused until `until` (Unix seconds), and sessions opened with one end with
    /// ``CloseCode/tokenRevoked``.
    case revokeToken(String, until: Int64)

    /// The close code of a session this command ends.
    public var closeCode: CloseCode {
        switch self {
        case .disconnectUser(_, let reconnect), .disconnectClient(_, let reconnect):
            return reconnect ? .disconnectedReconnect : .disconnected
        case .revokeToken: return .tokenRevoked
        }
    }

    /// Whether this command ends a session of `user` (nil: anonymous) with client id `client`, opened with a token
    /// whose `jti` is `tokenID`.
    public func ends(client: String, user: String?, tokenID: String?) -> Bool {
        switch self {
        case .disconnectUser(let target, _): return user == target
        case .disconnectClient(let target, _): return client == target
        case .revokeToken(let id, _): return tokenID == id
        }
    }
}

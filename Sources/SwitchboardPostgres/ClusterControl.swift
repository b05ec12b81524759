import Logging
import NIOCore
import PostgresNIO
import SwitchboardCore

/// Operators' orders across nodes (``ControlCommand``: disconnect a user or a client, revoke a token id). They travel
/// like events, as a NOTIFY on ``EventBus/channel`` (``EventBus/encode(_:origin:)-control``); a revocation is also a row
/// of `switchboard_revoked_tokens` written in the same statement, so a node that was not listening then (reconnecting,
/// or started later) still refuses the token: every node reads the table each time its reader connects.
enum ClusterControl {
    /// Made when missing (no schema version change: older servers ignore it).
    static let table = """
        CREATE TABLE IF NOT EXISTS switchboard_revoked_tokens (token_id text PRIMARY KEY, expires_at bigint NOT NULL)
        """

    /// One statement (one transaction): the revocation row, when there is one, and the NOTIFY, which leaves at commit.
    static func broadcastQuery(_ command: ControlCommand, payload: String) -> PostgresQuery {
        guard case .revokeToken(let id, let until) = command else {
            return "SELECT pg_notify(\(EventBus.channel), \(payload))"
        }
        return """
            WITH stored AS (
                INSERT INTO switchboard_revoked_tokens (token_id, expires_at) VALUES (\(id), \(until))
                ON CONFLICT (token_id) DO UPDATE SET expires_at = GREATEST(switchboard_revoked_tokens.expires_at, excluded.expires_at))
            SELECT pg_notify(\(EventBus.channel), \(payload))
            """
    }

    /// The revocations still in force at `now` (Unix seconds).
    static func revocations(now: Int64, _ connection: PostgresConnection, logger: Logger) async throws -> [ControlCommand] {
        var commands: [ControlCommand] = []
        let rows = try await connection.query(
            "SELECT token_id, expires_at FROM switchboard_revoked_tokens WHERE expires_at > \(now)", logger: logger)
        for try await (id, until) in rows.decode((String, Int64).self) { commands.append(.revokeToken(id, until: until)) }
        return commands
    }

    /// Deletes revocations that expired (a token past its revocation's end was past its own `exp` too).
    static func trimQuery(now: Int64) -> PostgresQuery {
        "DELETE FROM switchboard_revoked_tokens WHERE expires_at <= \(now)"
    }
}

import NIOCore
import SwitchboardCore

/// Ephemeral events (signals, receipt events) crossing nodes: each node sends the events that arise on it as a NOTIFY
/// on ``channel`` and delivers to its own subscribers what the others sent. Events are never stored, like on one node;
/// an event that reaches a node while it is not listening is lost there, as a signal to a disconnected client is.
///
/// The payload is the event as JSON, with the sending node's id so a node skips its own (it delivered them already):
/// `{"o":NODE,"c":CHANNEL,"k":KIND,"t":TARGET_USER,"p":PUSH}` (`t` only for receipt events).
enum EventBus {
    static let channel = "switchboard_events"
    /// NOTIFY payloads must be shorter than 8000 bytes.
    static let maxPayloadBytes = 7_999

    static func encode(_ event: EphemeralEvent, origin: String) -> String? {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("o"); writer.string(origin)
        writer.key("c"); writer.string(event.channel.rawValue)
        writer.key("k"); writer.string(event.kind.rawValue)
        if let target = event.targetUser { writer.key("t"); writer.string(target) }
        writer.key("p"); writer.raw(event.push)
        writer.endObject()
        guard writer.buffer.readableBytes <= maxPayloadBytes else { return nil }
        return String(buffer: writer.buffer)
    }

    /// An operator's order (``ClusterControl``): `{"o":NODE,"x":KIND,"i":ID,"r":RECONNECT,"u":UNTIL}` with KIND
    /// `disconnect_user`, `disconnect_client` or `revoke_token` (`r` for the first two, `u` for the last).
    static func encode(_ command: ControlCommand, origin: String) -> String? {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("o"); writer.string(origin)
        switch command {
        case .disconnectUser(let user, let reconnect):
            writer.key("x"); writer.string("disconnect_user")
            writer.key("i"); writer.string(user)
            writer.key("r"); writer.raw(ByteBuffer(string: reconnect ? "true" : "false"))
        case .disconnectClient(let client, let reconnect):
            writer.key("x"); writer.string("disconnect_client")
            writer.key("i"); writer.string(client)
            writer.key("r"); writer.raw(ByteBuffer(string: reconnect ? "true" : "false"))
        case .revokeToken(let id, let until):
            writer.key("x"); writer.string("revoke_token")
            writer.key("i"); writer.string(id)
            writer.key("u"); writer.int(until)
        }
        writer.endObject()
        guard writer.buffer.readableBytes <= maxPayloadBytes else { return nil }
        return String(buffer: writer.buffer)
    }

    /// The order another node sent; nil for this node's own and for anything that is not an order.
    static func decodeControl(_ payload: String, skipping origin: String) -> ControlCommand? {
        guard let members = try? JSONScanner.objectMembers(ByteBuffer(string: payload)) else { return nil }
        var fields: [String: ByteBuffer] = [:]
        for member in members { fields[member.key] = member.value }
        guard let rawOrigin = fields["o"], let sender = JSONScanner.decodeString(rawOrigin), sender != origin,
            let rawKind = fields["x"], let kind = JSONScanner.decodeString(rawKind),
            let rawID = fields["i"], let id = JSONScanner.decodeString(rawID), !id.isEmpty
        else { return nil }
        let reconnect = fields["r"].map { String(buffer: $0) }
        switch kind {
        case "disconnect_user" where reconnect == "true" || reconnect == "false": return .disconnectUser(id, reconnect: reconnect == "true")
        case "disconnect_client" where reconnect == "true" || reconnect == "false": return .disconnectClient(id, reconnect: reconnect == "true")
        case "revoke_token":
            guard let raw = fields["u"], let until = JSONScanner.decodeInteger(raw) else { return nil }
            return .revokeToken(id, until: until)
        default: return nil
        }
    }

    /// The event another node sent; nil for this node's own, and for anything that is not an event (nothing else
    /// should NOTIFY on this channel, but a database is shared ground).
    static func decode(_ payload: String, skipping origin: String) -> EphemeralEvent? {
        guard let members = try? JSONScanner.objectMembers(ByteBuffer(string: payload)) else { return nil }
        var fields: [String: ByteBuffer] = [:]
        for member in members { fields[member.key] = member.value }
        guard let rawOrigin = fields["o"], let sender = JSONScanner.decodeString(rawOrigin), sender != origin,
            let rawChannel = fields["c"], let name = JSONScanner.decodeString(rawChannel), let channel = try? ChannelName(validating: name),
            let rawKind = fields["k"], let kindName = JSONScanner.decodeString(rawKind), let kind = EphemeralEvent.Kind(rawValue: kindName),
            let push = fields["p"], JSONScanner.kind(of: push) == .object
        else { return nil }
        let target = fields["t"].flatMap { JSONScanner.decodeString($0) }
        return EphemeralEvent(channel: channel, kind: kind, push: push, targetUser: target)
    }
}

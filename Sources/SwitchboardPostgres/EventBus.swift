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

public import NIOCore

/// Something that happens on a channel besides a publication — a presence join or leave, an ephemeral signal — and
/// reaches the channel's current subscribers only: no offset, never stored, never recovered.
///
/// The push is encoded once where the event arises; every subscriber gets the same bytes.
public struct EphemeralEvent: Sendable {
    public enum Kind: String, Sendable {
        case join, leave, signal, receipt
        case presenceUpdate = "presence_update"
    }

    public var channel: ChannelName
    public var kind: Kind
    /// The JSON push, e.g. `{"push":"join","channel":…,"client":…,"user":…}`.
    public var push: ByteBuffer
    /// Only this user's sessions get the event (receipts go to the publisher); nil: every subscriber.
    public var targetUser: String?

    public init(channel: ChannelName, kind: Kind, push: ByteBuffer, targetUser: String? = nil) {
        self.channel = channel
        self.kind = kind
        self.push = push
        self.targetUser = targetUser
    }

    /// `{"push":"receipt","channel":C,"offset":O,"user":U,"status":"delivered"|"read"}` for the publisher's sessions.
    public static func receipt(channel: ChannelName, offset: UInt64, user: String, status: ReceiptRecord.Status, publisher: String)
        -> EphemeralEvent
    {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("push"); writer.string("receipt")
        writer.key("channel"); writer.string(channel.rawValue)
        writer.key("offset"); writer.uint(offset)
        writer.key("user"); writer.string(user)
        writer.key("status"); writer.string(status.rawValue)
        writer.endObject()
        return EphemeralEvent(channel: channel, kind: .receipt, push: writer.buffer, targetUser: publisher)
    }

    /// `{"push":"join"|"leave"|"presence_update","channel":C,"client":ID,"user":U,"info":{…}}` (`user`/`info` only when known).
    public static func presence(_ kind: Kind, channel: ChannelName, member: PresenceMember) -> EphemeralEvent {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("push"); writer.string(kind.rawValue)
        writer.key("channel"); writer.string(channel.rawValue)
        Pushes.writeMemberFields(member, into: &writer)
        writer.endObject()
        return EphemeralEvent(channel: channel, kind: kind, push: writer.buffer)
    }

    /// `{"push":"signal","channel":C,"type":T,"client":ID,"user":U,"data":…}` — the sender's identity is set by the
    /// server, so clients cannot pretend to be someone else.
    public static func signal(channel: ChannelName, type: String, client: String, user: String?, data: ByteBuffer?) -> EphemeralEvent {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("push"); writer.string("signal")
        writer.key("channel"); writer.string(channel.rawValue)
        writer.key("type"); writer.string(type)
        writer.key("client"); writer.string(client)
        if let user { writer.key("user"); writer.string(user) }
        if let data { writer.key("data"); writer.raw(data) }
        writer.endObject()
        return EphemeralEvent(channel: channel, kind: .signal, push: writer.buffer)
    }
}

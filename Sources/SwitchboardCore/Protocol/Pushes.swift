public import NIOCore

/// Encoders for every server→client message of protocol v1. Each returns the JSON text of one message.
public enum Pushes {
    /// `{"push":"publication","channel":…,"epoch":…,"offset":…,"data":…,"sender":…}` — encoded once per publication
    /// and shared by every subscriber.
    public static func publication(_ publication: Publication, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var writer = JSONWriter(buffer: allocator.buffer(capacity: publication.data.readableBytes + 96))
        writer.beginObject()
        writer.key("push"); writer.string("publication")
        writer.key("channel"); writer.string(publication.channel.rawValue)
        writer.key("epoch"); writer.string(publication.epoch)
        writer.key("offset"); writer.uint(publication.offset)
        writer.key("data"); writer.raw(publication.data)
        if let sender = publication.sender { writer.key("sender"); writer.string(sender) }
        if let key = publication.key { writer.key("key"); writer.string(key) }
        if publication.receipts { writer.key("receipts"); writer.bool(true) }
        writer.endObject()
        return writer.buffer
    }

    /// `{"push":"conflated","channel":C}` — the next publication of C follows publications skipped on purpose
    /// (replaced by newer ones with the same key, or held back by the subscription's max rate).
    public static func conflated(channel: ChannelName) -> ByteBuffer {
        object { writer in
            writer.key("push"); writer.string("conflated")
            writer.key("channel"); writer.string(channel.rawValue)
        }
    }

    /// The publication push in MessagePack (`switchboard.v1.msgpack`): the same members as ``publication(_:allocator:)``,
    /// with `data` transcoded once and `{"$binary":…}` objects back as `bin`.
    public static func messagePackPublication(_ publication: Publication) -> ByteBuffer {
        var writer = MessagePackWriter(capacity: publication.data.readableBytes + 96)
        writer.mapHeader(count: 5 + (publication.sender == nil ? 0 : 1) + (publication.key == nil ? 0 : 1) + (publication.receipts ? 1 : 0))
        writer.string("push"); writer.string("publication")
        writer.string("channel"); writer.string(publication.channel.rawValue)
        writer.string("epoch"); writer.string(publication.epoch)
        writer.string("offset"); writer.uint(publication.offset)
        writer.string("data")
        if let data = try? MessagePackValue(parsingJSON: publication.data) {
            data.restoringBinary().write(to: &writer)
        } else {
            writer.nilValue()  // unreachable: data was validated JSON when published
        }
        if let sender = publication.sender { writer.string("sender"); writer.string(sender) }
        if let key = publication.key { writer.string("key"); writer.string(key) }
        if publication.receipts { writer.string("receipts"); writer.bool(true) }
        return writer.buffer
    }

    /// `"offset":O,"recipients":[{"user":U,"delivered":B,"read":B}],"delivered":N,"read":N,"total":N` (+ `"truncated":true`).
    public static func writeReceipts(_ record: ReceiptRecord, offset: UInt64, into writer: inout JSONWriter) {
        writer.key("offset"); writer.uint(offset)
        writer.key("recipients")
        writer.beginArray()
        for (user, state) in record.recipients.sorted(by: { $0.key < $1.key }) {
            writer.beginObject()
            writer.key("user"); writer.string(user)
            writer.key("delivered"); writer.bool(state.delivered)
            writer.key("read"); writer.bool(state.read)
            writer.endObject()
        }
        writer.endArray()
        let counts = record.counts
        writer.key("total"); writer.int(Int64(counts.recipients))
        writer.key("delivered"); writer.int(Int64(counts.delivered))
        writer.key("read"); writer.int(Int64(counts.read))
        if record.truncated { writer.key("truncated"); writer.bool(true) }
    }

    /// `"channel":C,"epoch":E,"offset":O[,"recovered":B],"publications":[{"offset":…,"data":…,"sender":…}]` — a history
    /// page (`history` reply, `GET /api/history`); `epoch`/`offset` are the stream's current position.
    public static func writeHistory(channel: ChannelName, _ answer: HistoryQuery.Answer, into writer: inout JSONWriter) {
        writer.key("channel"); writer.string(channel.rawValue)
        writer.key("epoch"); writer.string(answer.position.epoch)
        writer.key("offset"); writer.uint(answer.position.offset)
        if let recovered = answer.recovered { writer.key("recovered"); writer.bool(recovered) }
        writer.key("publications")
        writer.beginArray()
        for publication in answer.publications {
            writer.beginObject()
            writer.key("offset"); writer.uint(publication.offset)
            writer.key("data"); writer.raw(publication.data)
            if let sender = publication.sender { writer.key("sender"); writer.string(sender) }
            writer.endObject()
        }
        writer.endArray()
    }

    /// A JSON object whose members `members` writes.
    public static func object(_ members: (inout JSONWriter) -> Void) -> ByteBuffer {
        var writer = JSONWriter()
        writer.beginObject()
        members(&writer)
        writer.endObject()
        return writer.buffer
    }

    /// Reply to a command: `{"id":N,"result":{…}}`.
    public static func reply(id: Int64, _ result: (inout JSONWriter) -> Void = { _ in }) -> ByteBuffer {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("id"); writer.int(id)
        writer.key("result")
        writer.beginObject()
        result(&writer)
        writer.endObject()
        writer.endObject()
        return writer.buffer
    }

    /// Error reply `{"id":N,"error":{"code":C,"reason":"…"}}`, or an `error` push when the id is unknown.
    public static func error(id: Int64?, _ error: ProtocolError) -> ByteBuffer {
        var writer = JSONWriter()
        writer.beginObject()
        if let id {
            writer.key("id"); writer.int(id)
        } else {
            writer.key("push"); writer.string("error")
        }
        writer.key("error")
        writeError(error, into: &writer)
        writer.endObject()
        return writer.buffer
    }

    /// `{"code":C,"name":"…","reason":"…"}`
    public static func writeError(_ error: ProtocolError, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("code"); writer.int(error.code.rawValue)
        writer.key("name"); writer.string(error.code.name)
        writer.key("reason"); writer.string(error.reason)
        writer.endObject()
    }

    /// Body of an HTTP refusal: `{"error":{"code":C,"name":…,"reason":…}}` plus optional extra members.
    public static func httpError(_ error: ProtocolError, extra: (inout JSONWriter) -> Void = { _ in }) -> ByteBuffer {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("error")
        writeError(error, into: &writer)
        extra(&writer)
        writer.endObject()
        return writer.buffer
    }

    /// Writes the members describing a subscription's start: channel, epoch, offset, recovered.
    public static func writeSubscribed(channel: ChannelName, recovery: Recovery, into writer: inout JSONWriter) {
        writer.key("channel"); writer.string(channel.rawValue)
        writer.key("epoch"); writer.string(recovery.position.epoch)
        writer.key("offset"); writer.uint(recovery.position.offset)
        switch recovery.outcome {
        case .fresh:
            break
        case .recovered:
            writer.key("recovered"); writer.bool(true)
        case .reset(let reason):
            writer.key("recovered"); writer.bool(false)
            writer.key("reason"); writer.string(reason.rawValue)
        }
    }

    /// `{"push":"subscribed"|"reset",…}` — how SSE streams announce each channel's start, since there is no subscribe
    /// command to reply to. `reset` means a requested resume was impossible and the client must reload state.
    public static func streamStart(type: String, channel: ChannelName, recovery: Recovery) -> ByteBuffer {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("push"); writer.string(type)
        writeSubscribed(channel: channel, recovery: recovery, into: &writer)
        writer.endObject()
        return writer.buffer
    }

    /// `{"push":"refresh","grace":MS}` — the connection's token expired: send a `refresh` command within `grace` ms.
    public static func refresh(graceMilliseconds: Int64) -> ByteBuffer {
        object { writer in
            writer.key("push"); writer.string("refresh")
            writer.key("grace"); writer.int(graceMilliseconds)
        }
    }

    /// `{"push":"ping"}` — application heartbeat that browser code can see.
    public static func ping() -> ByteBuffer {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("push"); writer.string("ping")
        writer.endObject()
        return writer.buffer
    }

    /// `{"push":"disconnect","code":C,"reason":"…","reconnect":bool}` — sent before the server closes a connection.
    /// `{"push":"session","session":ID}` — first event of a `/connection/sse` stream: the id its HTTP commands address.
    public static func session(id: String) -> ByteBuffer {
        object { writer in
            writer.key("push"); writer.string("session")
            writer.key("session"); writer.string(id)
        }
    }

    /// `{"push":"notice","kind":"deprecation","message":"…","sunset":"YYYY-MM-DD"}` — after the `connect` reply of a
    /// session the operator's notice concerns (sunset only when configured).
    public static func notice(_ notice: DeprecationNotice) -> ByteBuffer {
        object { writer in
            writer.key("push"); writer.string("notice")
            writer.key("kind"); writer.string("deprecation")
            writer.key("message"); writer.string(notice.message)
            if let sunset = notice.sunset { writer.key("sunset"); writer.string(sunset) }
        }
    }

    /// `"client":ID,"user":U,"info":{…}` (user and info only when known).
    public static func writeMemberFields(_ member: PresenceMember, into writer: inout JSONWriter) {
        writer.key("client"); writer.string(member.client)
        if let user = member.user { writer.key("user"); writer.string(user) }
        if let info = member.info { writer.key("info"); writer.raw(info) }
    }

    /// `"clients":N,"users":M,"members":[{…}],"next":CURSOR` — a presence snapshot page (`next` only when more follow).
    public static func writePresencePage(_ page: PresencePage, into writer: inout JSONWriter) {
        writer.key("clients"); writer.int(Int64(page.counts.clients))
        writer.key("users"); writer.int(Int64(page.counts.users))
        writer.key("members")
        writer.beginArray()
        for member in page.members {
            writer.beginObject()
            writeMemberFields(member, into: &writer)
            writer.endObject()
        }
        writer.endArray()
        if let next = page.next { writer.key("next"); writer.string(next) }
    }

    public static func disconnect(_ code: CloseCode) -> ByteBuffer {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("push"); writer.string("disconnect")
        writer.key("code"); writer.int(Int(code.rawValue))
        writer.key("reason"); writer.string(code.reason)
        writer.key("reconnect"); writer.bool(code.reconnect)
        writer.endObject()
        return writer.buffer
    }
}

import NIOCore
import SwitchboardCore

/// The JSON protocol (`switchboard.v1.json`, protocol.md §4): commands written with `JSONWriter`, messages read
/// with `JSONScanner` into ``Inbound`` without building a value tree (publication data stays a slice of the frame).
enum Wire {
    static func connect(id: Int64, token: String?) -> ByteBuffer {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("id", int: id)
        writer.field("cmd", string: "connect")
        if let token { writer.field("token", string: token) }
        writer.endObject()
        return writer.buffer
    }

    static func subscribe(
        id: Int64, channel: String, since: Switchboard.Position?, presenceInfo: ByteBuffer? = nil, joinPresence: Bool = true
    ) -> ByteBuffer {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("id", int: id)
        writer.field("cmd", string: "subscribe")
        writer.field("channel", string: channel)
        if let since {
            writer.key("since")
            writer.beginObject()
            writer.field("epoch", string: since.epoch)
            writer.field("offset", uint: since.offset)
            writer.endObject()
        }
        if let presenceInfo { writer.field("info", raw: presenceInfo) }
        if !joinPresence { writer.field("join", bool: false) }
        writer.endObject()
        return writer.buffer
    }

    static func refresh(id: Int64, token: String) -> ByteBuffer {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("id", int: id)
        writer.field("cmd", string: "refresh")
        writer.field("token", string: token)
        writer.endObject()
        return writer.buffer
    }

    static func unsubscribe(id: Int64, channel: String) -> ByteBuffer {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("id", int: id)
        writer.field("cmd", string: "unsubscribe")
        writer.field("channel", string: channel)
        writer.endObject()
        return writer.buffer
    }

    /// - Parameter data: one minified JSON value (checked by the caller).
    static func publish(id: Int64, channel: String, data: ByteBuffer, idempotencyKey: String, receipts: Bool = false) -> ByteBuffer {
        var writer = JSONWriter(capacity: 96 + data.readableBytes)
        writer.beginObject()
        writer.field("id", int: id)
        writer.field("cmd", string: "publish")
        writer.field("channel", string: channel)
        writer.field("data", raw: data)
        writer.field("idempotencyKey", string: idempotencyKey)
        if receipts { writer.field("receipts", bool: true) }
        writer.endObject()
        return writer.buffer
    }

    static func history(id: Int64, channel: String, query: Switchboard.HistoryQuery, limit: Int) -> ByteBuffer {
        var writer = command(id: id, "history", channel: channel)
        writer.field("limit", int: limit)
        switch query {
        case .oldest: break
        case .since(let position):
            writer.key("since")
            writer.beginObject()
            writer.field("epoch", string: position.epoch)
            writer.field("offset", uint: position.offset)
            writer.endObject()
        case .before(let offset): writer.field("before", uint: offset)
        case .latest: writer.field("latest", bool: true)
        }
        writer.endObject()
        return writer.buffer
    }

    static func presence(id: Int64, channel: String, cursor: String?, limit: Int) -> ByteBuffer {
        var writer = command(id: id, "presence", channel: channel)
        if let cursor { writer.field("cursor", string: cursor) }
        writer.field("limit", int: limit)
        writer.endObject()
        return writer.buffer
    }

    /// - Parameter info: one minified JSON value, or nil to clear the info (`null`).
    static func presenceUpdate(id: Int64, channel: String, info: ByteBuffer?) -> ByteBuffer {
        var writer = command(id: id, "presence_update", channel: channel)
        writer.field("info", raw: info ?? ByteBuffer(string: "null"))
        writer.endObject()
        return writer.buffer
    }

    /// - Parameter data: one minified JSON value, or nil.
    static func signal(id: Int64, channel: String, type: String, data: ByteBuffer?) -> ByteBuffer {
        var writer = command(id: id, "signal", channel: channel)
        writer.field("type", string: type)
        if let data { writer.field("data", raw: data) }
        writer.endObject()
        return writer.buffer
    }

    static func ack(id: Int64, channel: String, offset: UInt64, status: Switchboard.Receipt.Status) -> ByteBuffer {
        var writer = command(id: id, "ack", channel: channel)
        writer.field("offset", uint: offset)
        writer.field("status", string: status.rawValue)
        writer.endObject()
        return writer.buffer
    }

    static func receipts(id: Int64, channel: String, offset: UInt64) -> ByteBuffer {
        var writer = command(id: id, "receipts", channel: channel)
        writer.field("offset", uint: offset)
        writer.endObject()
        return writer.buffer
    }

    /// An open command object with `id`, `cmd` and `channel` written; the caller adds its members and closes it.
    private static func command(id: Int64, _ name: String, channel: String) -> JSONWriter {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("id", int: id)
        writer.field("cmd", string: name)
        writer.field("channel", string: channel)
        return writer
    }

    /// A message from the server, as far as the client acts on it.
    enum Inbound: Equatable {
        case reply(id: Int64, Reply)
        case publication(Switchboard.Publication)
        case reset(Switchboard.Reset)
        case conflated(channel: String)
        case join(channel: String, Switchboard.PresenceMember)
        case leave(channel: String, Switchboard.PresenceMember)
        case presenceUpdate(channel: String, Switchboard.PresenceMember)
        case signal(Switchboard.Signal)
        case receipt(Switchboard.Receipt)
        case disconnect(code: UInt16, reason: String)
        /// The session's token expired: send `refresh` within the grace period (protocol.md §4.4).
        case refreshRequested
        /// The first event of an SSE stream: the address of the session's command channel (protocol.md §8).
        case session(String)
        /// A push the client does not act on (ping, error pushes) or a message it cannot read.
        case ignored
    }

    enum Reply: Equatable {
        case result(Members)
        case error(Switchboard.ServerError)
    }

    /// An object's members by key (the last one wins, as the server reads commands).
    struct Members: Equatable {
        var values: [String: ByteBuffer]

        init(_ members: [JSONMember]) {
            values = Dictionary(members.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
        }

        func string(_ key: String) -> String? { values[key].flatMap(JSONScanner.decodeString) }
        func integer(_ key: String) -> Int64? { values[key].flatMap(JSONScanner.decodeInteger) }
        func bool(_ key: String) -> Bool? {
            guard let raw = values[key] else { return nil }
            switch String(buffer: raw) {
            case "true": return true
            case "false": return false
            default: return nil
            }
        }
        func object(_ key: String) -> Members? {
            guard let raw = values[key], let members = try? JSONScanner.objectMembers(raw) else { return nil }
            return Members(members)
        }

        /// `epoch` and `offset` members as a position.
        var position: Switchboard.Position? {
            guard let epoch = string("epoch"), let offset = integer("offset"), offset >= 0 else { return nil }
            return Switchboard.Position(epoch: epoch, offset: UInt64(offset))
        }

        /// `client`, `user` and `info` members as a presence member.
        var presenceMember: Switchboard.PresenceMember? {
            guard let client = string("client") else { return nil }
            let info = values["info"].flatMap { String(buffer: $0) == "null" ? nil : $0 }
            return Switchboard.PresenceMember(client: client, user: string("user"), info: info)
        }

        /// The elements of an array member; nil when it is missing or not an array.
        func array(_ key: String) -> [ByteBuffer]? {
            values[key].flatMap { try? JSONScanner.arrayElements($0) }
        }

        var serverError: Switchboard.ServerError? {
            guard let code = integer("code") else { return nil }
            return Switchboard.ServerError(code: Int(code), name: string("name") ?? "", reason: string("reason") ?? "")
        }
    }

    /// Reads one message (a text frame of an unbatched session holds exactly one).
    static func decode(_ frame: ByteBuffer) -> Inbound {
        guard let members = try? JSONScanner.objectMembers(frame) else { return .ignored }
        let message = Members(members)
        if let id = message.integer("id") {
            if let error = message.object("error")?.serverError { return .reply(id: id, .error(error)) }
            if let result = message.object("result") { return .reply(id: id, .result(result)) }
            return .ignored
        }
        switch message.string("push") {
        case "publication":
            guard let channel = message.string("channel"), let position = message.position, let data = message.values["data"] else {
                return .ignored
            }
            return .publication(
                Switchboard.Publication(
                    channel: channel, position: position, data: data, sender: message.string("sender"), key: message.string("key"),
                    receipts: message.bool("receipts") == true))
        case "reset":
            guard let channel = message.string("channel"), let position = message.position else { return .ignored }
            return .reset(Switchboard.Reset(channel: channel, position: position, reason: message.string("reason") ?? ""))
        case "conflated":
            return message.string("channel").map { .conflated(channel: $0) } ?? .ignored
        case "join", "leave", "presence_update":
            guard let channel = message.string("channel"), let member = message.presenceMember else { return .ignored }
            switch message.string("push") {
            case "join": return .join(channel: channel, member)
            case "leave": return .leave(channel: channel, member)
            default: return .presenceUpdate(channel: channel, member)
            }
        case "signal":
            guard let channel = message.string("channel"), let type = message.string("type"), let client = message.string("client") else {
                return .ignored
            }
            return .signal(
                Switchboard.Signal(channel: channel, type: type, client: client, user: message.string("user"), data: message.values["data"]))
        case "receipt":
            guard let channel = message.string("channel"), let offset = message.integer("offset"), offset > 0,
                let user = message.string("user"), let status = message.string("status").flatMap(Switchboard.Receipt.Status.init)
            else { return .ignored }
            return .receipt(Switchboard.Receipt(channel: channel, offset: UInt64(offset), user: user, status: status))
        case "refresh":
            return .refreshRequested
        case "session":
            return message.string("session").map { .session($0) } ?? .ignored
        case "disconnect":
            guard let number = message.integer("code"), let code = UInt16(exactly: number) else { return .ignored }
            return .disconnect(code: code, reason: message.string("reason") ?? "")
        default:
            return .ignored
        }
    }

    /// protocol.md §6: 4000–4499 and 1001, 1006, 1011, 1012, 1013 mean reconnect; other codes mean stop. Codes outside
    /// both lists (e.g. 3000–3999) are treated as reconnect, as the browser client does.
    static func shouldReconnect(afterCloseCode code: UInt16) -> Bool {
        switch code {
        case 4500..<5000, 1000, 1002, 1003, 1007, 1008, 1009, 1010: return false
        default: return true
        }
    }

    // MARK: results

    struct UnexpectedAnswer: Error {}

    /// A history page (`history` reply or `GET /api/history` answer), publications oldest first.
    static func historyPage(_ answer: ByteBuffer, channel: String) throws -> Switchboard.HistoryPage {
        guard let members = try? JSONScanner.objectMembers(answer) else { throw unexpected("history answer", answer) }
        return try historyPage(Members(members), channel: channel)
    }

    static func historyPage(_ members: Members, channel: String) throws -> Switchboard.HistoryPage {
        guard let position = members.position, let elements = members.array("publications") else {
            throw unexpected("history answer", nil)
        }
        let publications = try elements.map { element -> Switchboard.Publication in
            guard let item = try? Members(JSONScanner.objectMembers(element)), let offset = item.integer("offset"), offset > 0,
                let data = item.values["data"]
            else { throw unexpected("history item", element) }
            return Switchboard.Publication(
                channel: channel, position: Switchboard.Position(epoch: position.epoch, offset: UInt64(offset)), data: data,
                sender: item.string("sender"), key: item.string("key"), receipts: item.bool("receipts") == true)
        }
        return Switchboard.HistoryPage(publications: publications, position: position, recovered: members.bool("recovered"))
    }

    /// A presence page: the `presence` reply, or the `presence` member of a subscribe reply.
    static func presencePage(_ members: Members, channel: String) throws -> Switchboard.PresencePage {
        guard let clients = members.integer("clients"), let users = members.integer("users"), let list = members.array("members") else {
            throw unexpected("presence answer", nil)
        }
        let page = try list.map { element -> Switchboard.PresenceMember in
            guard let member = (try? JSONScanner.objectMembers(element)).map(Members.init)?.presenceMember else {
                throw unexpected("presence member", element)
            }
            return member
        }
        return Switchboard.PresencePage(channel: channel, clients: Int(clients), users: Int(users), members: page, next: members.string("next"))
    }

    static func receiptRecord(_ members: Members, channel: String, offset: UInt64) throws -> Switchboard.ReceiptRecord {
        guard let list = members.array("recipients") else { throw unexpected("receipts answer", nil) }
        let recipients = try list.map { element -> Switchboard.ReceiptRecord.Recipient in
            guard let recipient = (try? JSONScanner.objectMembers(element)).map(Members.init), let user = recipient.string("user") else {
                throw unexpected("receipt recipient", element)
            }
            return .init(user: user, delivered: recipient.bool("delivered") == true, read: recipient.bool("read") == true)
        }
        return Switchboard.ReceiptRecord(
            channel: channel, offset: offset, recipients: recipients, total: Int(members.integer("total") ?? 0),
            delivered: Int(members.integer("delivered") ?? 0), read: Int(members.integer("read") ?? 0),
            truncated: members.bool("truncated") == true)
    }

    /// A hub answer the SDK cannot read: reported as the server's internal error, with the text.
    static func unexpected(_ what: String, _ text: ByteBuffer?) -> Switchboard.ServerError {
        Switchboard.ServerError(code: 100, name: "internal_error", reason: "unexpected \(what)" + (text.map { ": \(String(buffer: $0))" } ?? ""))
    }
}

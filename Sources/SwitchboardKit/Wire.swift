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

    static func subscribe(id: Int64, channel: String, since: Switchboard.Position?) -> ByteBuffer {
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
    static func publish(id: Int64, channel: String, data: ByteBuffer, idempotencyKey: String) -> ByteBuffer {
        var writer = JSONWriter(capacity: 96 + data.readableBytes)
        writer.beginObject()
        writer.field("id", int: id)
        writer.field("cmd", string: "publish")
        writer.field("channel", string: channel)
        writer.field("data", raw: data)
        writer.field("idempotencyKey", string: idempotencyKey)
        writer.endObject()
        return writer.buffer
    }

    /// A message from the server, as far as the client acts on it.
    enum Inbound: Equatable {
        case reply(id: Int64, Reply)
        case publication(Switchboard.Publication)
        case reset(Switchboard.Reset)
        case conflated(channel: String)
        case disconnect(code: UInt16, reason: String)
        /// The session's token expired: send `refresh` within the grace period (protocol.md §4.4).
        case refreshRequested
        /// The first event of an SSE stream: the address of the session's command channel (protocol.md §8).
        case session(String)
        /// A push the client does not act on (ping, presence, signals…) or a message it cannot read.
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
                    channel: channel, position: position, data: data, sender: message.string("sender"), key: message.string("key")))
        case "reset":
            guard let channel = message.string("channel"), let position = message.position else { return .ignored }
            return .reset(Switchboard.Reset(channel: channel, position: position, reason: message.string("reason") ?? ""))
        case "conflated":
            return message.string("channel").map { .conflated(channel: $0) } ?? .ignored
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
}

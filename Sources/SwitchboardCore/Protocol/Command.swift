public import NIOCore

/// A client command of protocol v1 (docs/protocol.md), decoded from one WebSocket text message or HTTP body.
public enum Command: Sendable {
    /// `info` is optional JSON shown to others in presence (minified, at most ``CommandDecoder/maxInfoBytes``).
    /// `batch`: the client unpacks several messages from one WebSocket frame.
    /// `sdk` names the client library and its version (`switchboard-js/1.0.0`), for the operator's deprecation notices.
    case connect(token: String?, info: ByteBuffer? = nil, batch: Bool = false, sdk: String? = nil)
    /// `token` is a subscription token, needed for private channels without a capability.
    /// `maxRate` caps pushes per second for this subscription (conflating or holding in between).
    /// `info` is this connection's presence info on this channel (instead of the `connect` command's); `join: false`
    /// watches the channel's presence without joining it.
    case subscribe(
        channel: ChannelName, since: StreamPosition?, token: String? = nil, maxRate: Int? = nil, info: ByteBuffer? = nil, join: Bool = true)
    case unsubscribe(channel: ChannelName)
    /// `data` is validated and minified JSON.
    case publish(
        channel: ChannelName, data: ByteBuffer, idempotencyKey: String?, key: String? = nil, highPriority: Bool = false, receipts: Bool = false)
    case ping
    /// A new connection token for this session, sent before or after the server's `refresh` push.
    case refresh(token: String)
    /// Answer to a `ping` push; carries no id and gets no reply.
    case pong
    /// A page of the channel's presence, members after `cursor`.
    case presence(channel: ChannelName, cursor: String?, limit: Int)
    /// Replaces this connection's presence info on a subscribed presence channel (nil clears it).
    case presenceUpdate(channel: ChannelName, info: ByteBuffer?)
    /// A page of the channel's history.
    case history(channel: ChannelName, query: HistoryQuery)
    /// An ephemeral signal (typing, cursor, seen) to the channel's subscribers; `data` is validated, minified JSON.
    case signal(channel: ChannelName, type: String, data: ByteBuffer?)
    /// The client got (or its user read) the publication at `offset`, which asked for receipts.
    case ack(channel: ChannelName, offset: UInt64, status: ReceiptRecord.Status)
    /// The publisher asks for the receipts of its publication at `offset`.
    case receipts(channel: ChannelName, offset: UInt64)

    public var name: String {
        switch self {
        case .connect: "connect"
        case .subscribe: "subscribe"
        case .unsubscribe: "unsubscribe"
        case .publish: "publish"
        case .ping: "ping"
        case .refresh: "refresh"
        case .pong: "pong"
        case .presence: "presence"
        case .presenceUpdate: "presence_update"
        case .history: "history"
        case .signal: "signal"
        case .ack: "ack"
        case .receipts: "receipts"
        }
    }
}

/// A decoded command and the id its reply must echo (nil only for `pong`).
public struct CommandEnvelope: Sendable {
    public var id: Int64?
    public var command: Command
}

/// A command that could not be decoded; `id` is set when it could be read, so the error can be a reply.
public struct CommandDecodingFailure: Error, Sendable {
    public var id: Int64?
    public var error: ProtocolError
}

public enum CommandDecoder {
    public static let maxIdempotencyKeyLength = 128
    public static let maxConflationKeyLength = 128
    public static let maxRateLimit = 1000
    /// Presence info and signal data are small by design: they are copied to every subscriber without history.
    public static let maxInfoBytes = 1024
    public static let maxSignalDataBytes = 4096
    public static let maxSignalTypeLength = 32

    /// Decodes one command. Unknown fields are ignored so that newer clients can talk to this server.
    public static func decode(_ text: ByteBuffer) -> Result<CommandEnvelope, CommandDecodingFailure> {
        let members: [JSONMember]
        do {
            members = try JSONScanner.objectMembers(text)
        } catch {
            return .failure(CommandDecodingFailure(id: nil, error: ProtocolError(.malformedJSON, "command is not a JSON object: \(error)")))
        }
        var fields: [String: ByteBuffer] = [:]
        for member in members { fields[member.key] = member.value }

        var id: Int64?
        if let rawID = fields["id"] {
            guard let value = JSONScanner.decodeInteger(rawID), value > 0, value <= Int64(StreamPosition.maxOffset) else {
                return .failure(CommandDecodingFailure(id: nil, error: ProtocolError(.badRequest, "id must be a positive integer below 2^53")))
            }
            id = value
        }
        func fail(_ code: ErrorCode, _ reason: String) -> Result<CommandEnvelope, CommandDecodingFailure> {
            .failure(CommandDecodingFailure(id: id, error: ProtocolError(code, reason)))
        }
        guard let rawCmd = fields["cmd"], let cmd = JSONScanner.decodeString(rawCmd) else {
            return fail(.badRequest, "cmd must be a string")
        }
        if cmd == "pong" { return .success(CommandEnvelope(id: id, command: .pong)) }
        guard id != nil else { return fail(.badRequest, "id is required") }
        // Most commands name a channel: decoded once, refused the same way by each of them.
        let channelField = decodeChannel(fields["channel"])
        func failChannel() -> Result<CommandEnvelope, CommandDecodingFailure> {
            guard case .failure(let error) = channelField else { preconditionFailure("only called when the channel was refused") }
            return fail(error.code, error.reason)
        }

        switch cmd {
        case "connect":
            var token: String?
            if let rawToken = fields["token"], JSONScanner.kind(of: rawToken) != .null {
                guard let value = JSONScanner.decodeString(rawToken) else { return fail(.badRequest, "token must be a string") }
                token = value
            }
            let info: ByteBuffer?
            switch decodeInfo(fields["info"]) {
            case .success(let value): info = value
            case .failure(let error): return fail(error.code, error.reason)
            }
            var batch = false
            if let rawBatch = fields["batch"], JSONScanner.kind(of: rawBatch) != .null {
                guard JSONScanner.kind(of: rawBatch) == .bool else { return fail(.badRequest, "batch must be true or false") }
                batch = rawBatch.readableBytesView.first == UInt8(ascii: "t")
            }
            var sdk: String?
            if let rawSDK = fields["sdk"], JSONScanner.kind(of: rawSDK) != .null {
                guard let value = JSONScanner.decodeString(rawSDK), DeprecationNotice.isValidSDK(value) else {
                    return fail(.badRequest, "sdk must be NAME/VERSION: 1-64 printable ASCII characters without spaces")
                }
                sdk = value
            }
            return .success(CommandEnvelope(id: id, command: .connect(token: token, info: info, batch: batch, sdk: sdk)))
        case "subscribe":
            guard case .success(let channel) = channelField else { return failChannel() }
            var since: StreamPosition?
            if let rawSince = fields["since"], JSONScanner.kind(of: rawSince) != .null {
                guard let position = decodePosition(rawSince) else {
                    return fail(.invalidPosition, "since must be {\"epoch\": string, \"offset\": integer}")
                }
                since = position
            }
            var token: String?
            if let rawToken = fields["token"], JSONScanner.kind(of: rawToken) != .null {
                guard let value = JSONScanner.decodeString(rawToken) else { return fail(.badRequest, "token must be a string") }
                token = value
            }
            var maxRate: Int?
            if let rawRate = fields["maxRate"], JSONScanner.kind(of: rawRate) != .null {
                guard let value = JSONScanner.decodeInteger(rawRate), value >= 1, value <= Int64(maxRateLimit) else {
                    return fail(.badRequest, "maxRate must be 1–\(maxRateLimit) pushes per second")
                }
                maxRate = Int(value)
            }
            let info: ByteBuffer?
            switch decodeInfo(fields["info"]) {
            case .success(let value): info = value
            case .failure(let error): return fail(error.code, error.reason)
            }
            var join = true
            if let rawJoin = fields["join"], JSONScanner.kind(of: rawJoin) != .null {
                guard JSONScanner.kind(of: rawJoin) == .bool else { return fail(.badRequest, "join must be true or false") }
                join = rawJoin.readableBytesView.first == UInt8(ascii: "t")
            }
            return .success(
                CommandEnvelope(
                    id: id, command: .subscribe(channel: channel, since: since, token: token, maxRate: maxRate, info: info, join: join)))
        case "unsubscribe":
            guard case .success(let channel) = channelField else { return failChannel() }
            return .success(CommandEnvelope(id: id, command: .unsubscribe(channel: channel)))
        case "publish":
            guard case .success(let channel) = channelField else { return failChannel() }
            guard let rawData = fields["data"] else { return fail(.badRequest, "data is required") }
            var key: String?
            if let rawKey = fields["idempotencyKey"], JSONScanner.kind(of: rawKey) != .null {
                guard let value = JSONScanner.decodeString(rawKey), !value.isEmpty, value.utf8.count <= maxIdempotencyKeyLength else {
                    return fail(.badRequest, "idempotencyKey must be a string of 1–\(maxIdempotencyKeyLength) bytes")
                }
                key = value
            }
            let metadata: PublishMetadata
            switch decodePublishMetadata(fields) {
            case .success(let value): metadata = value
            case .failure(let error): return fail(error.code, error.reason)
            }
            // The whole command was validated above; minifying here is the one pass over data.
            guard let data = try? JSONScanner.validateAndMinify(rawData) else { return fail(.invalidData, "data is not valid JSON") }
            return .success(
                CommandEnvelope(
                    id: id,
                    command: .publish(
                        channel: channel, data: data, idempotencyKey: key, key: metadata.key, highPriority: metadata.highPriority,
                        receipts: metadata.receipts)))
        case "ping":
            return .success(CommandEnvelope(id: id, command: .ping))
        case "presence":
            guard case .success(let channel) = channelField else { return failChannel() }
            var cursor: String?
            if let rawCursor = fields["cursor"], JSONScanner.kind(of: rawCursor) != .null {
                guard let value = JSONScanner.decodeString(rawCursor) else { return fail(.badRequest, "cursor must be a string") }
                cursor = value
            }
            var limit = 100
            if let rawLimit = fields["limit"], JSONScanner.kind(of: rawLimit) != .null {
                guard let value = JSONScanner.decodeInteger(rawLimit), value >= 1, value <= Int64(PresenceTable.maxPageSize) else {
                    return fail(.badRequest, "limit must be 1–\(PresenceTable.maxPageSize)")
                }
                limit = Int(value)
            }
            return .success(CommandEnvelope(id: id, command: .presence(channel: channel, cursor: cursor, limit: limit)))
        case "presence_update":
            guard case .success(let channel) = channelField else { return failChannel() }
            guard fields["info"] != nil else { return fail(.badRequest, "info is required (null clears it)") }
            switch decodeInfo(fields["info"]) {
            case .success(let info): return .success(CommandEnvelope(id: id, command: .presenceUpdate(channel: channel, info: info)))
            case .failure(let error): return fail(error.code, error.reason)
            }
        case "history":
            guard case .success(let channel) = channelField else { return failChannel() }
            switch decodeHistoryQuery(fields) {
            case .success(let query): return .success(CommandEnvelope(id: id, command: .history(channel: channel, query: query)))
            case .failure(let error): return fail(error.code, error.reason)
            }
        case "ack", "receipts":
            guard case .success(let channel) = channelField else { return failChannel() }
            guard let rawOffset = fields["offset"], let offset = JSONScanner.decodeInteger(rawOffset), offset >= 1,
                offset <= Int64(StreamPosition.maxOffset)
            else {
                return fail(.badRequest, "offset must be a positive integer")
            }
            if cmd == "receipts" { return .success(CommandEnvelope(id: id, command: .receipts(channel: channel, offset: UInt64(offset)))) }
            var status = ReceiptRecord.Status.delivered
            if let rawStatus = fields["status"], JSONScanner.kind(of: rawStatus) != .null {
                guard let text = JSONScanner.decodeString(rawStatus), let value = ReceiptRecord.Status(rawValue: text) else {
                    return fail(.badRequest, "status must be \"delivered\" or \"read\"")
                }
                status = value
            }
            return .success(CommandEnvelope(id: id, command: .ack(channel: channel, offset: UInt64(offset), status: status)))
        case "signal":
            guard case .success(let channel) = channelField else { return failChannel() }
            guard let rawType = fields["type"], let type = JSONScanner.decodeString(rawType), isValidSignalType(type) else {
                return fail(.badRequest, "type must be 1–\(maxSignalTypeLength) characters of A-Z a-z 0-9 _ - . :")
            }
            var data: ByteBuffer?
            if let rawData = fields["data"], JSONScanner.kind(of: rawData) != .null {
                guard let value = try? JSONScanner.validateAndMinify(rawData), value.readableBytes <= maxSignalDataBytes else {
                    return fail(.badRequest, "signal data must be JSON of at most \(maxSignalDataBytes) bytes")
                }
                data = value
            }
            return .success(CommandEnvelope(id: id, command: .signal(channel: channel, type: type, data: data)))
        case "refresh":
            guard let rawToken = fields["token"], let token = JSONScanner.decodeString(rawToken), !token.isEmpty else {
                return fail(.badRequest, "refresh needs a token string")
            }
            return .success(CommandEnvelope(id: id, command: .refresh(token: token)))
        default:
            return fail(.unknownCommand, "unknown command \"\(cmd.prefix(64))\"")
        }
    }

    /// Optional presence `info` (`connect`, `subscribe`, `presence_update`): JSON of at most ``maxInfoBytes``, minified;
    /// absent or null is nil.
    static func decodeInfo(_ raw: ByteBuffer?) -> Result<ByteBuffer?, ProtocolError> {
        guard let raw, JSONScanner.kind(of: raw) != .null else { return .success(nil) }
        guard let value = try? JSONScanner.validateAndMinify(raw), value.readableBytes <= maxInfoBytes else {
            return .failure(ProtocolError(.badRequest, "info must be JSON of at most \(maxInfoBytes) bytes"))
        }
        return .success(value)
    }

    /// The `history` command's `since` (`{"epoch","offset"}`), `before` (offset), `latest` (bool) — at most one — and
    /// `limit`.
    static func decodeHistoryQuery(_ fields: [String: ByteBuffer]) -> Result<HistoryQuery, ProtocolError> {
        func present(_ name: String) -> ByteBuffer? {
            guard let raw = fields[name], JSONScanner.kind(of: raw) != .null else { return nil }
            return raw
        }
        var query = HistoryQuery()
        var starts = 0
        if let raw = present("since") {
            guard let position = decodePosition(raw) else {
                return .failure(ProtocolError(.invalidPosition, "since must be {\"epoch\": string, \"offset\": integer}"))
            }
            query.start = .since(position)
            starts += 1
        }
        if let raw = present("before") {
            guard let value = JSONScanner.decodeInteger(raw), value >= 1, value <= Int64(StreamPosition.maxOffset) else {
                return .failure(ProtocolError(.badRequest, "before must be a positive offset"))
            }
            query.start = .before(UInt64(value))
            starts += 1
        }
        if let raw = present("latest") {
            guard JSONScanner.kind(of: raw) == .bool else { return .failure(ProtocolError(.badRequest, "latest must be true or false")) }
            if raw.readableBytesView.first == UInt8(ascii: "t") {
                query.start = .latest
                starts += 1
            }
        }
        guard starts <= 1 else { return .failure(ProtocolError(.badRequest, "give at most one of since, before and latest")) }
        if let raw = present("limit") {
            guard let value = JSONScanner.decodeInteger(raw), value >= 1, value <= Int64(HistoryQuery.maxLimit) else {
                return .failure(ProtocolError(.badRequest, "limit must be 1–\(HistoryQuery.maxLimit)"))
            }
            query.limit = Int(value)
        }
        return .success(query)
    }

    public struct PublishMetadata: Sendable {
        public var key: String?
        public var highPriority = false
        public var receipts = false
    }

    /// The optional `key` (conflation) and `priority` (`"high"` or `"normal"`) of a publish, from the command or an
    /// HTTP API body.
    public static func decodePublishMetadata(_ fields: [String: ByteBuffer]) -> Result<PublishMetadata, ProtocolError> {
        var metadata = PublishMetadata()
        if let rawKey = fields["key"], JSONScanner.kind(of: rawKey) != .null {
            guard let value = JSONScanner.decodeString(rawKey), !value.isEmpty, value.utf8.count <= maxConflationKeyLength else {
                return .failure(ProtocolError(.badRequest, "key must be a string of 1–\(maxConflationKeyLength) bytes"))
            }
            metadata.key = value
        }
        if let rawPriority = fields["priority"], JSONScanner.kind(of: rawPriority) != .null {
            switch JSONScanner.decodeString(rawPriority) {
            case "high": metadata.highPriority = true
            case "normal": metadata.highPriority = false
            default: return .failure(ProtocolError(.badRequest, "priority must be \"high\" or \"normal\""))
            }
        }
        if let rawReceipts = fields["receipts"], JSONScanner.kind(of: rawReceipts) != .null {
            guard JSONScanner.kind(of: rawReceipts) == .bool else { return .failure(ProtocolError(.badRequest, "receipts must be true or false")) }
            metadata.receipts = rawReceipts.readableBytesView.first == UInt8(ascii: "t")
        }
        return .success(metadata)
    }

    static func isValidSignalType(_ type: String) -> Bool {
        !type.isEmpty && type.utf8.count <= maxSignalTypeLength
            && type.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
                case UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: ":"): true
                default: false
                }
            }
    }

    /// Decodes a `channel` field value.
    public static func decodeChannel(_ raw: ByteBuffer?) -> Result<ChannelName, ProtocolError> {
        guard let raw, let text = JSONScanner.decodeString(raw) else {
            return .failure(ProtocolError(.badRequest, "channel must be a string"))
        }
        do {
            return .success(try ChannelName(validating: text))
        } catch {
            return .failure(ProtocolError(.invalidChannel, error.reason))
        }
    }

    /// Decodes `{"epoch": "...", "offset": N}`.
    public static func decodePosition(_ raw: ByteBuffer) -> StreamPosition? {
        guard JSONScanner.kind(of: raw) == .object, let members = try? JSONScanner.objectMembers(raw) else { return nil }
        var epoch: String?
        var offset: Int64?
        for member in members {
            switch member.key {
            case "epoch": epoch = JSONScanner.decodeString(member.value)
            case "offset": offset = JSONScanner.decodeInteger(member.value)
            default: break
            }
        }
        guard let epoch, StreamPosition.isValidEpoch(epoch[...]), let offset, offset >= 0, UInt64(offset) <= StreamPosition.maxOffset else {
            return nil
        }
        return StreamPosition(epoch: epoch, offset: UInt64(offset))
    }
}

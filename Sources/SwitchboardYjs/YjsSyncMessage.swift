/// One y-websocket message (the framing of `y-websocket` over `y-protocols`' sync, awareness and auth protocols), as
/// a client sends it to `/yjs/{room}`: decoded with the same limits as updates, so a malformed message is a typed error.
///
/// Wire format: a varuint message type, then
/// - 0 sync: a varuint sync type — 0 step 1 (a state vector), 1 step 2 or 2 update (an update) — and the payload as a
///   varuint-length byte array;
/// - 1 awareness: an awareness update as a varuint-length byte array;
/// - 2 auth: a varuint auth type (0: permission denied) and a reason string (server to client only);
/// - 3 query awareness: nothing more.
public enum YjsSyncMessage: Hashable, Sendable {
    case syncStep1(stateVector: YStateVector)
    /// Step 2 and update carry an update still encoded: decoding it is the caller's choice (and cost).
    case syncStep2(update: [UInt8])
    case update([UInt8])
    case awareness(YjsAwarenessUpdate)
    case queryAwareness

    public static let syncType: UInt64 = 0
    public static let awarenessType: UInt64 = 1
    public static let authType: UInt64 = 2
    public static let queryAwarenessType: UInt64 = 3

    /// Decodes one whole message; bytes after it are refused.
    public init(decoding bytes: [UInt8]) throws(YjsMessageError) {
        var decoder = Lib0Decoder(bytes)
        let type: UInt64
        do {
            type = try decoder.readVarUInt()
        } catch {
            throw YjsMessageError(.malformedMessage, error)
        }
        switch type {
        case Self.syncType:
            let syncType: UInt64
            let payload: [UInt8]
            do {
                syncType = try decoder.readVarUInt()
                payload = try decoder.readVarBytes()
            } catch {
                throw YjsMessageError(.malformedMessage, error)
            }
            switch syncType {
            case 0:
                do {
                    self = .syncStep1(stateVector: try YStateVector(decoding: payload))
                } catch {
                    throw YjsMessageError(.malformedStateVector, error)
                }
            case 1: self = .syncStep2(update: payload)
            case 2: self = .update(payload)
            default: throw YjsMessageError(.unknownMessageType, detail: "sync message type \(syncType)")
            }
        case Self.awarenessType:
            let payload: [UInt8]
            do {
                payload = try decoder.readVarBytes()
            } catch {
                throw YjsMessageError(.malformedMessage, error)
            }
            do {
                self = .awareness(try YjsAwarenessUpdate(decoding: payload))
            } catch {
                throw YjsMessageError(.malformedAwareness, error)
            }
        case Self.queryAwarenessType:
            self = .queryAwareness
        default:
            // Auth messages go from server to client only.
            throw YjsMessageError(.unknownMessageType, detail: "message type \(type)")
        }
        guard decoder.remaining == 0 else { throw YjsMessageError(.malformedMessage, YjsDecodingError(.trailingBytes, at: decoder.position)) }
    }

    /// `[0, 0, state vector]`: sync step 1.
    public static func encodeSyncStep1(_ stateVector: [UInt8]) -> [UInt8] { sync(0, stateVector) }
    /// `[0, 1, update]`: sync step 2, the answer to step 1.
    public static func encodeSyncStep2(_ update: [UInt8]) -> [UInt8] { sync(1, update) }
    /// `[0, 2, update]`: an update for the peers of a room.
    public static func encodeUpdate(_ update: [UInt8]) -> [UInt8] { sync(2, update) }

    /// `[1, awareness update]`.
    public static func encodeAwareness(_ update: [UInt8]) -> [UInt8] {
        var encoder = Lib0Encoder()
        encoder.writeVarUInt(awarenessType)
        encoder.writeVarBytes(update)
        return encoder.bytes
    }

    /// `[2, 0, reason]`: y-protocols' permission-denied auth message.
    public static func encodePermissionDenied(_ reason: String) -> [UInt8] {
        var encoder = Lib0Encoder()
        encoder.writeVarUInt(authType)
        encoder.writeVarUInt(0)
        encoder.writeVarString(reason)
        return encoder.bytes
    }

    private static func sync(_ syncType: UInt64, _ payload: [UInt8]) -> [UInt8] {
        var encoder = Lib0Encoder()
        encoder.writeVarUInt(Self.syncType)
        encoder.writeVarUInt(syncType)
        encoder.writeVarBytes(payload)
        return encoder.bytes
    }
}

/// An awareness update (`y-protocols/awareness.js`): for each awareness client id, its clock and its state as JSON text
/// (`null` when the client left).
public struct YjsAwarenessUpdate: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public var clientID: UInt64
        public var clock: UInt64
        /// The state as JSON text, checked to parse (peers `JSON.parse` it).
        public var state: [UInt8]

        public init(clientID: UInt64, clock: UInt64, state: [UInt8]) {
            self.clientID = clientID
            self.clock = clock
            self.state = state
        }

        public var isRemoval: Bool { state == Array("null".utf8) }
    }

    public var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries
    }

    public init(decoding bytes: [UInt8]) throws(YjsDecodingError) {
        var decoder = Lib0Decoder(bytes)
        // An entry is at least three bytes: client id, clock, and the state's length.
        let count = try decoder.readCount(minimumBytesEach: 3)
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        for _ in 0..<count {
            let clientID = try decoder.readVarUInt()
            let clock = try decoder.readVarUInt()
            let start = decoder.position
            let state = try decoder.readVarUTF8()
            guard JSONCheck.isValid(state) else { throw YjsDecodingError(.invalidJSON, at: start) }
            entries.append(Entry(clientID: clientID, clock: clock, state: state))
        }
        guard decoder.remaining == 0 else { throw decoder.error(.trailingBytes) }
        self.entries = entries
    }

    public func encoded() -> [UInt8] {
        var encoder = Lib0Encoder()
        encoder.writeVarUInt(UInt64(entries.count))
        for entry in entries {
            encoder.writeVarUInt(entry.clientID)
            encoder.writeVarUInt(entry.clock)
            encoder.writeVarBytes(entry.state)
        }
        return encoder.bytes
    }
}

/// Why a y-websocket message was refused: what part was wrong, and the decoding error under it when there is one.
public struct YjsMessageError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case malformedMessage = "malformed message"
            case unknownMessageType = "unknown message type"
            case malformedStateVector = "malformed state vector"
            case malformedUpdate = "update does not decode"
            case malformedAwareness = "malformed awareness update"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The message's own framing (type, lengths) is broken or has bytes after it.
        public static let malformedMessage = Kind(.malformedMessage)
        /// A message or sync type y-websocket clients do not send.
        public static let unknownMessageType = Kind(.unknownMessageType)
        /// Sync step 1's state vector does not decode.
        public static let malformedStateVector = Kind(.malformedStateVector)
        /// Step 2's or an update message's update does not decode.
        public static let malformedUpdate = Kind(.malformedUpdate)
        /// The awareness update does not decode, or a state is not JSON.
        public static let malformedAwareness = Kind(.malformedAwareness)

        public var description: String { base.rawValue }
    }

    public let kind: Kind
    /// The decoding error, or what was unknown.
    public let detail: String

    public init(_ kind: Kind, _ error: YjsDecodingError) {
        self.kind = kind
        self.detail = error.description
    }

    public init(_ kind: Kind, detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(kind): \(detail)" }
}

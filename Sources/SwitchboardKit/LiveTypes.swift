public import NIOCore

extension Switchboard {
    /// Which page of a channel's history to read (protocol.md §4.13); pages are always oldest first.
    public enum HistoryQuery: Sendable, Equatable {
        /// From the oldest publication the hub still holds.
        case oldest
        /// The publications after a position; ``HistoryPage/recovered`` says whether they continue exactly after it
        /// (another epoch's position answers the oldest held and `recovered == false`).
        case since(Position)
        /// The newest publications with offsets below `offset` (≥ 1): loading earlier messages. Compare the page's
        /// ``HistoryPage/position`` epoch with the one your offsets came from.
        case before(offset: UInt64)
        /// The newest publications.
        case latest
    }

    /// One page of a channel's history.
    public struct HistoryPage: Sendable, Equatable {
        /// The publications, oldest first.
        public var publications: [Publication]
        /// The stream's current position (its newest publication), not the last one of the page.
        public var position: Position
        /// Only for ``HistoryQuery/since(_:)``: true if the page continues exactly after it, false if publications
        /// were lost (another epoch, a position ahead of the stream, or older than the history window).
        public var recovered: Bool?
    }

    /// One connection in a presence channel (protocol.md §4.7).
    public struct PresenceMember: Sendable, Equatable {
        /// The connection's client id (the `connect` reply's `client`).
        public var client: String
        /// The connection's user (its token's `sub`); nil for an anonymous connection.
        public var user: String?
        /// The member's presence info, minified JSON; nil when it has none.
        public var info: ByteBuffer?

        /// Creates a member (the client builds them from the wire; tests and fakes may too).
        public init(client: String, user: String? = nil, info: ByteBuffer? = nil) {
            self.client = client
            self.user = user
            self.info = info
        }

        /// ``info`` as text (JSON).
        public var infoText: String? { info.map { String(buffer: $0) } }
    }

    /// A page of a presence channel's members, in client-id order, with the channel's counts.
    public struct PresencePage: Sendable, Equatable {
        /// The channel.
        public var channel: String
        /// Connections present.
        public var clients: Int
        /// Distinct users among them (anonymous connections are not users).
        public var users: Int
        /// This page's members.
        public var members: [PresenceMember]
        /// The cursor of the next page (``Client/presence(_:cursor:limit:)``); nil on the last page.
        public var next: String?
    }

    /// An ephemeral message on a channel (protocol.md §4.8): never stored, never recovered.
    public struct Signal: Sendable, Equatable {
        /// The channel.
        public var channel: String
        /// The signal's type (e.g. `typing`).
        public var type: String
        /// The sending connection's client id (set by the hub).
        public var client: String
        /// The sender's user; nil when anonymous.
        public var user: String?
        /// The signal's data, minified JSON; nil when it carried none.
        public var data: ByteBuffer?
    }

    /// What became of a signal: sent now, or held back by the namespace's interval (the newest held one goes out when
    /// the interval ends).
    public enum SignalResult: Sendable, Equatable {
        /// Sent to the channel's subscribers.
        case sent
        /// Inside `signal_interval_ms` of the previous one of the same type: held back, replacing an older one held.
        case coalesced
    }

    /// A recipient acknowledged one of your publications that asked for receipts (protocol.md §4.11).
    public struct Receipt: Sendable, Equatable {
        /// How far the recipient got.
        public enum Status: String, Sendable, Equatable {
            /// The recipient's client received it.
            case delivered
            /// The recipient's application marked it read (``Client/markRead(_:offset:)``).
            case read
        }

        /// The publication's channel.
        public var channel: String
        /// The publication's offset.
        public var offset: UInt64
        /// The recipient user.
        public var user: String
        /// Delivered or read.
        public var status: Status
    }

    /// Who received and read one of your publications (the `receipts` command).
    public struct ReceiptRecord: Sendable, Equatable {
        /// One recipient user.
        public struct Recipient: Sendable, Equatable {
            /// The user.
            public var user: String
            /// Their client received it.
            public var delivered: Bool
            /// They marked it read.
            public var read: Bool
        }

        /// The publication's channel.
        public var channel: String
        /// The publication's offset.
        public var offset: UInt64
        /// Per recipient user; empty when ``truncated``.
        public var recipients: [Recipient]
        /// Recipients counted.
        public var total: Int
        /// How many received it.
        public var delivered: Int
        /// How many read it.
        public var read: Int
        /// Beyond the namespace's `receipts_max_recipients` only counts are kept.
        public var truncated: Bool
    }

    /// Options of a subscription beyond its position.
    public struct SubscribeOptions: Sendable {
        /// This connection's presence info on the channel (one JSON value of at most 1024 bytes), instead of none.
        /// ``Client/updatePresence(_:info:)`` replaces it; either way it is sent again after every reconnect.
        public var presenceInfo: String?
        /// false: see the channel's presence (snapshot, joins and leaves) without becoming a member of it.
        public var joinPresence: Bool

        /// - Parameters:
        ///   - presenceInfo: one JSON value, or nil.
        ///   - joinPresence: default true.
        public init(presenceInfo: String? = nil, joinPresence: Bool = true) {
            self.presenceInfo = presenceInfo
            self.joinPresence = joinPresence
        }
    }

    /// A presence channel's member list, kept exact by applying a subscription's events in order: the snapshot of
    /// each (re)subscription replaces the list, then joins, leaves and updates change it (protocol.md §4.7: a `join` for
    /// a client already listed and a `leave` for one not listed change nothing).
    ///
    /// The snapshot holds the first page (100 members); for larger channels read the rest with
    /// ``Client/presence(_:cursor:limit:)`` or rely on the counts.
    public struct PresenceList: Sendable, Equatable {
        /// The members by client id.
        public private(set) var members: [String: PresenceMember] = [:]
        /// Connections present, from the last snapshot plus joins minus leaves.
        public private(set) var clients = 0

        /// An empty list, before the first snapshot.
        public init() {}

        /// Applies one event of the channel's subscription; other events change nothing.
        public mutating func apply(_ event: SubscriptionEvent) {
            switch event {
            case .presence(let page):
                members = Dictionary(page.members.map { ($0.client, $0) }, uniquingKeysWith: { _, last in last })
                clients = page.clients
            case .join(let member):
                if members.updateValue(member, forKey: member.client) == nil { clients += 1 }
            case .leave(let member):
                if members.removeValue(forKey: member.client) != nil { clients -= 1 }
            case .presenceUpdate(let member):
                if members[member.client] != nil { members[member.client] = member }
            default:
                break
            }
        }
    }
}

extension Switchboard.API {
    /// One page of a channel's history (the same type as ``Switchboard/HistoryPage``).
    public typealias HistoryPage = Switchboard.HistoryPage
}

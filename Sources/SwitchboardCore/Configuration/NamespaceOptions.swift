/// How the channels of one namespace behave: history, who may publish, who may subscribe, binary frames.
///
/// Configured as `channel_defaults.*` (the options of channels without a namespace, and the base of every namespace)
/// and overridden per namespace as `namespaces.<name>.*`.
public struct NamespaceOptions: Sendable, Equatable {
    /// Publications kept per channel for catch-up after a reconnect; 0 keeps none.
    public var historySize: Int
    /// How long a kept publication stays available; nil keeps it until newer ones push it out of `historySize`.
    public var historyTTL: Duration?
    /// Whether connected clients may publish, rather than only the server API.
    public var allowClientPublish: Bool
    /// Whether a client without a token may subscribe.
    public var allowAnonymous: Bool
    /// Whether binary WebSocket frames on the raw endpoint are published; otherwise they are refused.
    public var allowBinary: Bool
    /// Whether subscribing needs a capability or a per-channel subscription token even for authenticated users.
    public var isPrivate: Bool
    /// How long a publish's idempotency key is remembered per channel; zero turns deduplication off.
    public var idempotencyWindow: Duration
    /// Whether subscribers are tracked in the channel's presence.
    public var presence: Bool
    /// Whether presence joins and leaves are pushed to subscribers (turn off for very large channels: counts and
    /// snapshots stay available).
    public var joinLeave: Bool
    /// Whether subscribers may send ephemeral signals (typing, cursors) to the channel.
    public var allowSignals: Bool
    /// Shortest time between two signals of one type from one connection on one channel; more are coalesced.
    public var signalInterval: Duration
    /// Latest value per key: a waiting publication is replaced by a newer one with the same `key`.
    public var conflation: Bool
    /// Default pushes per second per subscription (0: unlimited); `subscribe`'s `maxRate` overrides it.
    public var maxRate: Int
    /// Publications may ask for delivery and read receipts; subscribers are tracked so recipients are known.
    public var receipts: Bool
    /// Recipients named per publication at most; beyond it only counts are kept.
    public var receiptsMaxRecipients: Int
    /// Whether the namespace's channels are Yjs rooms, served at `/yjs/{room}` to y-websocket clients (docs/yjs.md).
    public var yjs: Bool
    /// The largest Yjs update (or sync step 2) a client may send to a room; a larger one closes the connection (1009).
    public var yjsMaxUpdateBytes: Int
    /// The largest a room's document may grow (its compacted update); an update past it closes the connection (4510).
    public var yjsMaxDocumentBytes: Int
    /// A room's update log is compacted into one merged update once it holds this many updates…
    public var yjsCompactAfterUpdates: Int
    /// …or this many bytes of updates since the last compaction.
    public var yjsCompactAfterBytes: Int

    /// Options with every field given; the defaults are the development-mode ones.
    public init(
        historySize: Int = 100,
        historyTTL: Duration? = .seconds(300),
        allowClientPublish: Bool = true,
        allowAnonymous: Bool = true,
        allowBinary: Bool = false,
        isPrivate: Bool = false,
        idempotencyWindow: Duration = .seconds(300),
        presence: Bool = false,
        joinLeave: Bool = true,
        allowSignals: Bool = true,
        signalInterval: Duration = .milliseconds(1000),
        conflation: Bool = false,
        maxRate: Int = 0,
        receipts: Bool = false,
        receiptsMaxRecipients: Int = 1000,
        yjs: Bool = false,
        yjsMaxUpdateBytes: Int = 1_048_576,
        yjsMaxDocumentBytes: Int = 16_777_216,
        yjsCompactAfterUpdates: Int = 100,
        yjsCompactAfterBytes: Int = 262_144
    ) {
        self.yjs = yjs
        self.yjsMaxUpdateBytes = yjsMaxUpdateBytes
        self.yjsMaxDocumentBytes = yjsMaxDocumentBytes
        self.yjsCompactAfterUpdates = yjsCompactAfterUpdates
        self.yjsCompactAfterBytes = yjsCompactAfterBytes
        self.receipts = receipts
        self.receiptsMaxRecipients = receiptsMaxRecipients
        self.historySize = historySize
        self.historyTTL = historyTTL
        self.allowClientPublish = allowClientPublish
        self.allowAnonymous = allowAnonymous
        self.allowBinary = allowBinary
        self.isPrivate = isPrivate
        self.idempotencyWindow = idempotencyWindow
        self.presence = presence
        self.joinLeave = joinLeave
        self.allowSignals = allowSignals
        self.signalInterval = signalInterval
        self.conflation = conflation
        self.maxRate = maxRate
    }

    /// The built-in options for a mode: production closes client publishing and anonymous access unless configured.
    public static func defaults(for mode: HubConfiguration.Mode) -> NamespaceOptions {
        let open = mode == .development
        return NamespaceOptions(allowClientPublish: open, allowAnonymous: open)
    }

    /// The history part, in the form engines take it.
    public var historyPolicy: HistoryPolicy {
        var policy = HistoryPolicy(capacity: historySize, ttl: historyTTL, idempotencyRetention: idempotencyWindow)
        policy.receiptsMaxRecipients = receiptsMaxRecipients
        return policy
    }
}

/// The options a layer set explicitly; unset fields come from the base they are applied to.
///
/// Why: mode-dependent defaults and namespace inheritance need "not set" to differ from "set to the default value".
struct NamespaceOverrides: Sendable, Equatable {
    var historySize: Int?
    var historyTTL: Duration??
    var allowClientPublish: Bool?
    var allowAnonymous: Bool?
    var allowBinary: Bool?
    var isPrivate: Bool?
    var idempotencyWindow: Duration?
    var presence: Bool?
    var joinLeave: Bool?
    var allowSignals: Bool?
    var signalInterval: Duration?
    var conflation: Bool?
    var maxRate: Int?
    var receipts: Bool?
    var receiptsMaxRecipients: Int?
    var yjs: Bool?
    var yjsMaxUpdateBytes: Int?
    var yjsMaxDocumentBytes: Int?
    var yjsCompactAfterUpdates: Int?
    var yjsCompactAfterBytes: Int?

    /// `base` with every explicitly set field replaced.
    func applied(to base: NamespaceOptions) -> NamespaceOptions {
        var options = base
        if let historySize { options.historySize = historySize }
        if let historyTTL { options.historyTTL = historyTTL }
        if let allowClientPublish { options.allowClientPublish = allowClientPublish }
        if let allowAnonymous { options.allowAnonymous = allowAnonymous }
        if let allowBinary { options.allowBinary = allowBinary }
        if let isPrivate { options.isPrivate = isPrivate }
        if let idempotencyWindow { options.idempotencyWindow = idempotencyWindow }
        if let presence { options.presence = presence }
        if let joinLeave { options.joinLeave = joinLeave }
        if let allowSignals { options.allowSignals = allowSignals }
        if let signalInterval { options.signalInterval = signalInterval }
        if let conflation { options.conflation = conflation }
        if let maxRate { options.maxRate = maxRate }
        if let receipts { options.receipts = receipts }
        if let receiptsMaxRecipients { options.receiptsMaxRecipients = receiptsMaxRecipients }
        if let yjs { options.yjs = yjs }
        if let yjsMaxUpdateBytes { options.yjsMaxUpdateBytes = yjsMaxUpdateBytes }
        if let yjsMaxDocumentBytes { options.yjsMaxDocumentBytes = yjsMaxDocumentBytes }
        if let yjsCompactAfterUpdates { options.yjsCompactAfterUpdates = yjsCompactAfterUpdates }
        if let yjsCompactAfterBytes { options.yjsCompactAfterBytes = yjsCompactAfterBytes }
        return options
    }
}

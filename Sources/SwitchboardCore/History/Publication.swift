public import NIOCore

/// One message in a channel's stream, with the position the engine assigned to it.
///
/// `data` is JSON text validated and minified once at publish time; the hub never parses it again.
public struct Publication: Sendable {
    public var channel: ChannelName
    public var epoch: String
    public var offset: UInt64
    public var data: ByteBuffer
    /// User id of the publisher, attached by the server (never taken from the client's payload).
    public var sender: String?
    public var idempotencyKey: String?
    /// The publisher's "latest value per key" key (e.g. a ticker symbol); conflating namespaces replace older
    /// unsent publications with the same key. The hub never looks into `data` for it.
    public var key: String?
    /// High-priority publications overtake other channels' publications in a backed-up queue.
    public var highPriority: Bool
    /// The publisher asked for delivery and read receipts; subscribers' clients acknowledge it.
    public var receipts: Bool

    public init(
        channel: ChannelName, epoch: String, offset: UInt64, data: ByteBuffer, sender: String? = nil, idempotencyKey: String? = nil,
        key: String? = nil, highPriority: Bool = false, receipts: Bool = false
    ) {
        self.receipts = receipts
        self.channel = channel
        self.epoch = epoch
        self.offset = offset
        self.data = data
        self.sender = sender
        self.idempotencyKey = idempotencyKey
        self.key = key
        self.highPriority = highPriority
    }

    public var position: StreamPosition { StreamPosition(epoch: epoch, offset: offset) }
}

/// What a client asked to publish, before a position is assigned.
public struct PublishRequest: Sendable {
    public var channel: ChannelName
    public var data: ByteBuffer
    public var sender: String?
    public var idempotencyKey: String?
    public var key: String?
    public var highPriority: Bool
    public var receipts: Bool

    public init(
        channel: ChannelName, data: ByteBuffer, sender: String? = nil, idempotencyKey: String? = nil, key: String? = nil, highPriority: Bool = false,
        receipts: Bool = false
    ) {
        self.receipts = receipts
        self.channel = channel
        self.data = data
        self.sender = sender
        self.idempotencyKey = idempotencyKey
        self.key = key
        self.highPriority = highPriority
    }
}

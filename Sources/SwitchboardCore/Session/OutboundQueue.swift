public import NIOCore

/// A session's bounded queue of messages waiting for the socket to become writable.
///
/// Messages go straight to the socket while it is writable; only what the peer does not read piles up here.
/// Both the byte count and the message count are bounded: `append` refuses the message that would cross either bound,
/// and the caller applies the slow-consumer policy (disconnect with a reason, so the client can come back and recover).
public struct OutboundQueue<Element> {
    public let maxBytes: Int
    public let maxMessages: Int
    public private(set) var bytes = 0
    /// Largest `bytes` ever reached; the slow-reader test reads it to prove the bound holds.
    public private(set) var peakBytes = 0

    private var items = CircularBuffer<(element: Element, size: Int)>()

    public init(maxBytes: Int, maxMessages: Int) {
        precondition(maxBytes > 0 && maxMessages > 0, "queue bounds must be positive")
        self.maxBytes = maxBytes
        self.maxMessages = maxMessages
    }

    public var isEmpty: Bool { items.isEmpty }
    public var count: Int { items.count }

    /// Queues `element`; false (and nothing queued) when it would exceed a bound.
    public mutating func append(_ element: Element, size: Int) -> Bool {
        guard items.count < maxMessages, bytes + size <= maxBytes else { return false }
        items.append((element, size))
        bytes += size
        peakBytes = max(peakBytes, bytes)
        return true
    }

    public mutating func popFirst() -> Element? {
        guard let first = items.popFirst() else { return nil }
        bytes -= first.size
        return first.element
    }

    public mutating func removeAll() {
        items.removeAll()
        bytes = 0
    }
}

public import NIOCore

/// A long-poll session's outgoing messages, numbered, kept until the client confirms it processed them.
///
/// A poll response can be lost in transit (the connection drops while it is on the way), so delivery is not
/// confirmation: the next poll names the last sequence number the client processed (`ack`), the outbox forgets
/// everything up to it and answers with the rest again. Bounded like every outbound queue: a client that stops
/// confirming eventually overflows it and is treated as a slow consumer.
public struct PollOutbox: Sendable {
    public let maxBytes: Int
    public let maxMessages: Int

    private var messages = CircularBuffer<(sequence: UInt64, message: ByteBuffer)>()
    /// Sequence number of the newest message (0 before the first).
    public private(set) var lastSequence: UInt64 = 0
    public private(set) var bytes = 0

    public init(maxBytes: Int, maxMessages: Int) {
        self.maxBytes = maxBytes
        self.maxMessages = maxMessages
    }

    public var isEmpty: Bool { messages.isEmpty }
    public var count: Int { messages.count }

    /// Adds a message; false (nothing added) when the outbox is full. `force` adds past the bound: a final
    /// `disconnect` push must still reach the client that overflowed.
    public mutating func append(_ message: ByteBuffer, force: Bool = false) -> Bool {
        if !force, messages.count >= maxMessages || bytes + message.readableBytes > maxBytes { return false }
        lastSequence += 1
        messages.append((lastSequence, message))
        bytes += message.readableBytes
        return true
    }

    /// Forgets every message up to and including `sequence`.
    public mutating func acknowledge(through sequence: UInt64) {
        while let first = messages.first, first.sequence <= sequence {
            bytes -= first.message.readableBytes
            messages.removeFirst()
        }
    }

    /// Whether a message newer than `sequence` is waiting.
    public func hasMessages(after sequence: UInt64) -> Bool {
        lastSequence > sequence && !messages.isEmpty
    }

    /// The JSON poll response with the messages after `sequence`, at most about `byteBudget` bytes of them (always at
    /// least one when any is waiting): `{"seq":M,"messages":[…]}` where M is the last included sequence number.
    public func response(after sequence: UInt64, byteBudget: Int) -> (body: ByteBuffer, lastSequence: UInt64, count: Int) {
        var body = ByteBuffer()
        var last = min(sequence, lastSequence)
        var included = 0
        var used = 0
        var list = ByteBuffer()
        for entry in messages where entry.sequence > sequence {
            if included > 0 && used + entry.message.readableBytes > byteBudget { break }
            if included > 0 { list.writeInteger(UInt8(ascii: ",")) }
            var message = entry.message
            list.writeBuffer(&message)
            used += entry.message.readableBytes
            last = entry.sequence
            included += 1
        }
        body.writeString("{\"seq\":\(last),\"messages\":[")
        body.writeBuffer(&list)
        body.writeString("]}")
        return (body, last, included)
    }
}

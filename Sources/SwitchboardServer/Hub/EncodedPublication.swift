import NIOConcurrencyHelpers
import NIOCore
import SwitchboardCore

/// A publication encoded once per wire format; every subscriber of that format gets the same bytes.
///
/// `ByteBuffer` is copy-on-write and nothing writes into these buffers after construction, so sharing them across
/// event loops is safe and costs no copy: transports add only their own small prefix (frame header, SSE `id:` line).
final class EncodedPublication: Sendable, StreamItem {
    let publication: Publication
    /// Protocol push (`{"push":"publication",…}`): the WebSocket text frame payload.
    let jsonPush: ByteBuffer
    /// `jsonPush` as a complete WebSocket text frame (header included): written as it is to every JSON subscriber that
    /// neither batches nor compresses it.
    let jsonTextFrame: ByteBuffer
    /// `data: <jsonPush>\n\n`: the body of an SSE event on `/connection/sse` (the `id:` line is per connection).
    let sseEvent: ByteBuffer
    /// `data: <data>\n\n`: the body of an SSE event on `/raw/sse/{channel}`.
    let rawSSEEvent: ByteBuffer
    /// The MessagePack push and its frame, made by the first MessagePack subscriber that needs them and shared by the
    /// rest: a publication is transcoded at most once, and never when nobody speaks MessagePack.
    private let messagePack = MadeOnce<(push: ByteBuffer, frame: ByteBuffer)>()
    /// Whole SSE events with their `id:` line for a stream of this one channel (the common case: its id is just this
    /// publication's position), so every such subscriber gets the same buffer. Made on first use.
    private let singleChannelSSE = MadeOnce<(json: ByteBuffer, raw: ByteBuffer)>()
    /// The published data as a complete WebSocket text frame for `/raw/ws/{channel}` subscribers, made by the first
    /// one that needs it and shared by the rest (never made when nobody subscribes raw).
    private let rawFrame = MadeOnce<ByteBuffer>()

    /// ``rawData`` framed once for every raw WebSocket subscriber.
    var rawTextFrame: ByteBuffer {
        rawFrame.value { WebSocketFraming.frame(publication.data, opcode: .text) }
    }

    var singleChannelSSEEvents: (json: ByteBuffer, raw: ByteBuffer) {
        singleChannelSSE.value {
            var json = SSEFraming.idLine(SSEEventID.encode([publication.position]), allocator: ByteBufferAllocator())
            var raw = json
            json.writeImmutableBuffer(sseEvent)
            raw.writeImmutableBuffer(rawSSEEvent)
            return (json, raw)
        }
    }

    var messagePackPush: ByteBuffer { messagePackEncoded.push }

    /// The MessagePack push and its complete WebSocket binary frame.
    var messagePackEncoded: (push: ByteBuffer, frame: ByteBuffer) {
        messagePack.value {
            let push = Pushes.messagePackPublication(publication)
            return (push, WebSocketFraming.frame(push, opcode: .binary))
        }
    }

    /// When the hub received the publication from the engine (`NIODeadline` uptime nanoseconds): the start of the
    /// delivery latency. 0 for publications read from history, which are not measured.
    let receivedAt: UInt64

    init(_ publication: Publication, receivedAt: UInt64 = 0, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        self.publication = publication
        self.receivedAt = receivedAt
        let push = Pushes.publication(publication, allocator: allocator)
        self.jsonPush = push
        self.jsonTextFrame = WebSocketFraming.frame(push, opcode: .text, allocator: allocator)
        self.sseEvent = SSEFraming.dataEvent(push, allocator: allocator)
        self.rawSSEEvent = SSEFraming.dataEvent(publication.data, allocator: allocator)
    }

    /// Bytes held by the encodings made up front (not counting the shared publication data).
    var encodedBytes: Int {
        jsonPush.readableBytes + jsonTextFrame.readableBytes + sseEvent.readableBytes + rawSSEEvent.readableBytes
    }

    /// How an outbound queue may treat this publication while it waits.
    func queueTag(conflates: Bool) -> QueueTag {
        QueueTag(channel: publication.channel, conflationKey: conflates ? publication.key : nil, highPriority: publication.highPriority)
    }

    var streamOffset: UInt64 { publication.offset }
    var streamEpoch: String { publication.epoch }
    var channel: ChannelName { publication.channel }
    /// Raw WebSocket payload: the published data itself.
    var rawData: ByteBuffer { publication.data }
}

/// A value made by the first caller that needs it (under a lock: subscribers on several event loops may ask at once)
/// and shared by every later one.
final class MadeOnce<Value: Sendable>: Sendable {
    private let made = NIOLockedValueBox<Value?>(nil)

    func value(_ make: () -> Value) -> Value {
        made.withLockedValue { made in
            if let made { return made }
            let value = make()
            made = value
            return value
        }
    }
}

/// Server-Sent Events framing. Data is minified JSON, so it never contains a newline and fits one `data:` line.
enum SSEFraming {
    static func dataEvent(_ data: ByteBuffer, event: String? = nil, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: data.readableBytes + 16 + (event?.utf8.count ?? 0))
        if let event {
            buffer.writeString("event: ")
            buffer.writeString(event)
            buffer.writeString("\n")
        }
        buffer.writeString("data: ")
        buffer.writeImmutableBuffer(data)
        buffer.writeString("\n\n")
        return buffer
    }

    static func idLine(_ id: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: id.utf8.count + 5)
        buffer.writeString("id: ")
        buffer.writeString(id)
        buffer.writeString("\n")
        return buffer
    }

    static let heartbeat: ByteBuffer = ByteBuffer(string: ":\n\n")
}

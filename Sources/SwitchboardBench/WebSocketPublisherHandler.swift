import NIOCore
import SwitchboardClient

/// The publisher's one WebSocket connection (`--publish-over websocket`): the upgrade to `switchboard.v1.json`, then
/// one masked `publish` command per publication, written without waiting for replies (open loop).
///
/// Command `id` k + 1 carries publication k; each reply is matched by its id, so the channel it counts for is known
/// whatever order replies come in: `{"id":N,"result":…}` is accepted, `{"id":N,"error":{"code":C,…}}` refused. Pushes
/// (the server's `ping`) are ignored, ping frames answered with a pong frame.
final class WebSocketPublisherHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A refused publication: the error's code (`128` rate_limited, …) and the server's reason.
    struct Refusal {
        var code: Int
        var text: String
    }

    private let request: String
    private let upgraded: EventLoopPromise<Void>
    private let onReply: (_ channelIndex: Int, _ refusal: Refusal?) -> Void
    private let onClose: (_ unanswered: Int) -> Void
    private var open = false
    /// `upgraded` was completed (it must be only once).
    private var upgradeSettled = false
    private var pending = ByteBuffer()
    /// Channel index of every publication written and not answered yet, by command id.
    private var inFlight: [Int: Int] = [:]
    private var context: ChannelHandlerContext?

    init(
        request: String, upgraded: EventLoopPromise<Void>, onReply: @escaping (Int, Refusal?) -> Void,
        onClose: @escaping (Int) -> Void
    ) {
        self.request = request
        self.upgraded = upgraded
        self.onReply = onReply
        self.onClose = onClose
    }

    var outstanding: Int { inFlight.count }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: request)), promise: nil)
    }

    /// Writes publication `id`'s `publish` command for `channelIndex`; the caller flushes once per tick. False when the
    /// connection is not (or no longer) open.
    func publish(id: Int, channelIndex: Int, command: String) -> Bool {
        guard open, let context else { return false }
        inFlight[id] = channelIndex
        let frame = WebSocketClientFrame.make(opcode: 0x1, payload: ByteBuffer(string: command), allocator: context.channel.allocator)
        context.write(wrapOutboundOut(frame), promise: nil)
        return true
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        pending.writeBuffer(&incoming)
        if !open {
            guard let head = HTTPResponseHead.read(from: &pending, refusing: { refuseUpgrade(context: context, reason: $0.description) })
            else { return }
            guard head.status == 101 else { return refuseUpgrade(context: context, reason: "HTTP \(head.status) instead of 101") }
            upgradeSettled = true
            open = true
            upgraded.succeed()
        }
        WebSocketClientFrame.readFrames(&pending) { opcode, _, length, buffer in
            switch opcode {
            case 0x1:
                onText(buffer.getString(at: buffer.readerIndex, length: length) ?? "")
            case 0x9:
                let payload = buffer.getSlice(at: buffer.readerIndex, length: length) ?? ByteBuffer()
                let pong = WebSocketClientFrame.make(opcode: 0xA, payload: payload, allocator: context.channel.allocator)
                context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
            case 0x8:
                context.close(promise: nil)
            default:
                break
            }
        }
        pending.discardReadBytes()
    }

    private func refuseUpgrade(context: ChannelHandlerContext, reason: String) {
        upgradeSettled = true
        upgraded.fail(PublisherConnectError("publisher WebSocket: \(reason)"))
        context.close(promise: nil)
    }

    /// A reply `{"id":N,…}` settles publication N; anything else (a push) is not about a publication.
    private func onText(_ text: String) {
        guard let id = Self.leadingNumber(in: text, after: #"{"id":"#), let channelIndex = inFlight.removeValue(forKey: id) else { return }
        if text.contains(#""result""#) {
            onReply(channelIndex, nil)
        } else {
            onReply(channelIndex, Refusal(code: Self.leadingNumber(in: text, after: #""code":"#) ?? 0, text: text))
        }
    }

    /// The integer right after the first `key` in `text`.
    static func leadingNumber(in text: String, after key: String) -> Int? {
        guard let range = text.range(of: key) else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }

    func channelInactive(context: ChannelHandlerContext) {
        open = false
        if !upgradeSettled {
            upgradeSettled = true
            upgraded.fail(PublisherConnectError("publisher WebSocket closed before the upgrade"))
        }
        onClose(inFlight.count)
        inFlight.removeAll()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// The publisher could not open its connection.
struct PublisherConnectError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@available(*, unavailable) extension WebSocketPublisherHandler: Sendable {}

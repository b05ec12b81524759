import NIOCore
import NIOHTTP1

/// Lets the handlers that write an HTTP/1.1 response as bytes (pre-upgrade refusals, ``SSESessionHandler``) serve
/// one HTTP/2 stream unchanged: the response head becomes a HEADERS frame, later bytes DATA frames, and closing the
/// stream ends it cleanly (END_STREAM) instead of resetting it.
///
/// Why bytes and not typed parts: on HTTP/1.1 those handlers write straight to the socket, and SSE events are encoded
/// once and shared by every subscriber; keeping them byte-level keeps that path free of per-connection codecs. The
/// head is parsed once per stream; event buffers pass through as DATA payloads without copies.
final class HTTP2StreamResponseWriter: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case collectingHead(ByteBuffer)
        case streamingBody
        case ended
    }

    /// Headers that describe an HTTP/1.1 connection, forbidden in HTTP/2 (RFC 9113 §8.2.2).
    private static let connectionSpecific: Set<String> = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]

    private var state = State.collectingHead(ByteBuffer())

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var bytes = unwrapOutboundIn(data)
        switch state {
        case .ended:
            promise?.fail(ChannelError.ioOnClosedChannel)
        case .streamingBody:
            context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: promise)
        case .collectingHead(var pending):
            pending.writeBuffer(&bytes)
            guard let end = pending.readableBytesView.firstRange(of: Array("\r\n\r\n".utf8)) else {
                state = .collectingHead(pending)
                promise?.succeed(())
                return
            }
            let headLength = end.upperBound - pending.readableBytesView.startIndex
            let headText = pending.readString(length: headLength) ?? ""
            guard let head = Self.parseHead(headText) else {
                // Only our own handlers write here; a head we cannot read is a bug, answered with a reset stream.
                state = .ended
                promise?.fail(ChannelError.ioOnClosedChannel)
                context.close(promise: nil)
                return
            }
            state = .streamingBody
            if pending.readableBytes > 0 {
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(pending))), promise: promise)
            } else {
                context.write(wrapOutboundOut(.head(head)), promise: promise)
            }
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard case .streamingBody = state else {
            context.close(mode: mode, promise: promise)
            return
        }
        state = .ended
        // End the stream first; closing an open stream would reset it (RST_STREAM) and the client could lose the
        // last event. The close that follows only releases a stream the peer has not closed its side of.
        let ended = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: ended)
        let channel = context.channel
        ended.futureResult.whenComplete { _ in
            channel.close(mode: mode, promise: promise)
        }
    }

    /// `HTTP/1.1 200 OK\r\nname: value\r\n…\r\n\r\n` as written by Switchboard's own handlers.
    static func parseHead(_ text: String) -> HTTPResponseHead? {
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: true).makeIterator()
        guard let statusLine = lines.next() else { return nil }
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let code = Int(parts[1]), (100...999).contains(code) else { return nil }
        var headers = HTTPHeaders()
        while let line = lines.next() {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingPrefix(" ")
            if connectionSpecific.contains(name) { continue }
            headers.add(name: name, value: String(value))
        }
        return HTTPResponseHead(version: .http2, status: HTTPResponseStatus(statusCode: code), headers: headers)
    }
}

@available(*, unavailable) extension HTTP2StreamResponseWriter: Sendable {}

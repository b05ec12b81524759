import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import SwitchboardServer

/// The adapter that lets byte-writing handlers (refusals, SSE) answer on an HTTP/2 stream.
@Suite(.timeLimit(.minutes(1))) struct HTTP2StreamResponseWriterTests {
    private func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(HTTP2StreamResponseWriter())
        return channel
    }

    @Test func headBecomesTypedHeadWithoutConnectionSpecificHeaders() throws {
        let channel = try channel()
        try channel.writeOutbound(
            ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\nretry: 2000\n\n"))
        guard case .head(let head) = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
            Issue.record("expected a head")
            return
        }
        #expect(head.status == .ok)
        #expect(head.headers["content-type"] == ["text/event-stream"])
        #expect(head.headers["connection"].isEmpty)
        guard case .body(.byteBuffer(let body)) = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
            Issue.record("expected the bytes after the head as body")
            return
        }
        #expect(String(buffer: body) == "retry: 2000\n\n")
    }

    @Test func headSplitAcrossWritesIsReassembled() throws {
        let channel = try channel()
        try channel.writeOutbound(ByteBuffer(string: "HTTP/1.1 403 Forbidden\r\ncontent-le"))
        #expect(try channel.readOutbound(as: HTTPServerResponsePart.self) == nil)
        try channel.writeOutbound(ByteBuffer(string: "ngth: 2\r\n\r\n{}"))
        guard case .head(let head) = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
            Issue.record("expected a head")
            return
        }
        #expect(head.status == .forbidden)
        #expect(head.headers["content-length"] == ["2"])
    }

    @Test func closingAfterTheHeadEndsTheStreamBeforeClosing() throws {
        let channel = try channel()
        try channel.writeOutbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\n\r\n"))
        _ = try channel.readOutbound(as: HTTPServerResponsePart.self)
        _ = channel.close()
        #expect(try channel.readOutbound(as: HTTPServerResponsePart.self) == .end(nil))
        #expect(!channel.isActive)
    }

    @Test func headsThatAreNotHTTPResponsesAreNotParsed() throws {
        #expect(HTTP2StreamResponseWriter.parseHead("garbage\r\n\r\n") == nil)
        #expect(HTTP2StreamResponseWriter.parseHead("HTTP/1.1 abc OK\r\n\r\n") == nil)
    }
}

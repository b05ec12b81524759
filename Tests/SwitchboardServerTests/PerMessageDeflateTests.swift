import CompressNIO
import NIOCore
import NIOWebSocket
import SwitchboardClient
import SwitchboardCore
import Testing

@testable import SwitchboardServer

/// The permessage-deflate codec: round trips, the wire tail, context takeover, and refusing zip bombs.
struct PerMessageDeflateCodecTests {
    let allocator = ByteBufferAllocator()

    private func text(_ count: Int) -> ByteBuffer {
        ByteBuffer(string: String(repeating: "switchboard fan-out ", count: count / 20 + 1).prefix(count).description)
    }

    @Test(arguments: [9, 12, 15])
    func aMessageRoundTripsThroughTheCodec(windowBits: Int) throws {
        let message = text(10_000)
        let compressed = try MessageDeflater(windowBits: windowBits).compress(message, allocator: allocator)
        #expect(compressed.readableBytes < message.readableBytes / 5)
        let inflated = try MessageInflater(keepsContext: false).inflate(compressed, limit: 1 << 20, allocator: allocator)
        #expect(inflated == message)
    }

    @Test func theSyncFlushTailIsNotSent() throws {
        let compressed = try MessageDeflater(windowBits: 15).compress(text(1_000), allocator: allocator)
        #expect(compressed.getBytes(at: compressed.writerIndex - 4, length: 4) != PerMessageDeflate.tail)
    }

    /// RFC 7692 section 7.2.3.1: "Hello" compressed without context takeover.
    @Test func theRFCExampleInflates() throws {
        let compressed = ByteBuffer(bytes: [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        let inflated = try MessageInflater(keepsContext: false).inflate(compressed, limit: 100, allocator: allocator)
        #expect(String(buffer: inflated) == "Hello")
    }

    @Test func emptyMessagesRoundTrip() throws {
        let compressed = try MessageDeflater(windowBits: 15).compress(ByteBuffer(), allocator: allocator)
        #expect(compressed == ByteBuffer(bytes: [0x00]))
        #expect(try MessageInflater(keepsContext: false).inflate(compressed, limit: 10, allocator: allocator).readableBytes == 0)
    }

    /// No context takeover: each message stands alone, so the same input always gives the same bytes.
    @Test func everyMessageIsCompressedWithAFreshContext() throws {
        let deflater = try MessageDeflater(windowBits: 15)
        let first = try deflater.compress(text(2_000), allocator: allocator)
        let second = try deflater.compress(text(2_000), allocator: allocator)
        #expect(first == second)
    }

    /// Encode once: the same buffer handed to the loop's compressor again (a broadcast) is not compressed again.
    @Test func theSameBufferIsCompressedOnce() throws {
        let deflater = try MessageDeflater(windowBits: 15)
        let message = text(2_000)
        let first = try deflater.compress(message, allocator: allocator)
        let second = try deflater.compress(message, allocator: allocator)
        let firstAddress = first.withUnsafeReadableBytes { $0.baseAddress }
        let secondAddress = second.withUnsafeReadableBytes { $0.baseAddress }
        #expect(firstAddress == secondAddress)
    }

    /// The measurement switch (`testing.deflate_per_connection`): the same buffer is compressed again, same bytes.
    @Test func withoutReuseTheSameBufferIsCompressedAgainToTheSameBytes() throws {
        let deflater = try MessageDeflater(windowBits: 15)
        let message = text(2_000)
        let first = try deflater.compress(message, allocator: allocator)
        let second = try deflater.compress(message, allocator: allocator, reusingLast: false)
        let firstAddress = first.withUnsafeReadableBytes { $0.baseAddress }
        let secondAddress = second.withUnsafeReadableBytes { $0.baseAddress }
        #expect(firstAddress != secondAddress)
        #expect(first == second)
    }

    /// A client that keeps its context refers back to earlier messages: the per-connection inflater must keep it too.
    @Test func aContextKeepingInflaterReadsMessagesThatReferToEarlierOnes() throws {
        let clientCompressor = try ZlibCompressor(algorithm: .deflate)
        let inflater = try MessageInflater(keepsContext: true)
        for _ in 0..<3 {
            var message = text(3_000)
            var compressed = allocator.buffer(capacity: clientCompressor.maxSize(from: message))
            try clientCompressor.deflate(from: &message, to: &compressed, flush: .sync)
            compressed.moveWriterIndex(to: compressed.writerIndex - 4)
            let inflated = try inflater.inflate(compressed, limit: 1 << 20, allocator: allocator)
            #expect(inflated == text(3_000))
        }
    }

    @Test func aZipBombIsRefusedAtTheLimit() throws {
        let bomb = ByteBuffer(repeating: 0, count: 10 << 20)
        let compressed = try MessageDeflater(windowBits: 15).compress(bomb, allocator: allocator)
        #expect(compressed.readableBytes < 20_000)
        #expect(throws: PerMessageDeflate.InflateError.tooLarge) {
            try MessageInflater(keepsContext: false).inflate(compressed, limit: 65_536, allocator: allocator)
        }
    }

    @Test func aMessageExactlyAtTheLimitIsAccepted() throws {
        let message = ByteBuffer(repeating: 7, count: 65_536)
        let compressed = try MessageDeflater(windowBits: 15).compress(message, allocator: allocator)
        #expect(try MessageInflater(keepsContext: false).inflate(compressed, limit: 65_536, allocator: allocator) == message)
    }

    @Test func garbageIsRefusedAsCorrupt() throws {
        #expect(throws: PerMessageDeflate.InflateError.corrupt) {
            try MessageInflater(keepsContext: false).inflate(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF]), limit: 100, allocator: allocator)
        }
    }
}

/// permessage-deflate on a live server, through the echo endpoint (the production WebSocket pipeline).
struct PerMessageDeflateEndToEndTests {
    private static func server(maxMessageBytes: Int = 65_536) async throws -> TestServer {
        try await TestServer.start {
            $0.testing.echoEndpoint = true
            $0.limits.maxMessageBytes = maxMessageBytes
        }
    }

    private static func connect(_ server: TestServer, offer: String?) async throws -> WebSocketClient {
        try await WebSocketClient.connect(
            host: "127.0.0.1", port: server.port, path: "/testing/echo", subprotocols: [],
            headers: offer.map { [("sec-websocket-extensions", $0)] } ?? [])
    }

    @Test func theEchoEndpointIsOffByDefault() async throws {
        let server = try await TestServer.start()
        await #expect(throws: HTTPRefusal.self) {
            try await WebSocketClient.connect(host: "127.0.0.1", port: server.port, path: "/testing/echo", subprotocols: [])
        }
        try await server.stop()
    }

    @Test(arguments: ["permessage-deflate", "permessage-deflate; client_no_context_takeover"])
    func compressedMessagesRoundTrip(offer: String) async throws {
        let server = try await Self.server()
        let client = try await Self.connect(server, offer: offer)
        #expect(client.head.header("sec-websocket-extensions")?.hasPrefix("permessage-deflate; server_no_context_takeover") == true)
        let clientCompressor = try ZlibCompressor(algorithm: .deflate)
        let serverInflater = try MessageInflater(keepsContext: false)
        for round in 0..<3 {
            // The client keeps its context across messages unless it promised not to.
            if offer.contains("client_no_context_takeover") { try clientCompressor.reset() }
            var message = ByteBuffer(string: String(repeating: "message \(round) ", count: 200))
            let original = message
            var compressed = ByteBufferAllocator().buffer(capacity: clientCompressor.maxSize(from: message))
            try clientCompressor.deflate(from: &message, to: &compressed, flush: .sync)
            compressed.moveWriterIndex(to: compressed.writerIndex - 4)
            try await client.sendFrame(opcode: 0x2, payload: Array(compressed.readableBytesView), rsv: 0b100)
            guard case .binary(let echoed)? = await client.receive() else {
                Issue.record("no echo")
                break
            }
            // Above the 256-byte threshold, so the echo comes back compressed.
            let inflated = try serverInflater.inflate(ByteBuffer(bytes: echoed), limit: 1 << 20, allocator: ByteBufferAllocator())
            #expect(inflated == original)
        }
        await client.close()
        try await server.stop()
    }

    @Test func smallMessagesAreEchoedUncompressed() async throws {
        let server = try await Self.server()
        let client = try await Self.connect(server, offer: "permessage-deflate")
        try await client.send(text: "hello")
        #expect(await client.receive() == .text("hello"))
        await client.close()
        try await server.stop()
    }

    @Test func aZipBombGetsClose1009() async throws {
        let server = try await Self.server(maxMessageBytes: 65_536)
        let client = try await Self.connect(server, offer: "permessage-deflate")
        let bomb = try MessageDeflater(windowBits: 15).compress(ByteBuffer(repeating: 0x41, count: 4 << 20), allocator: ByteBufferAllocator())
        try await client.sendFrame(opcode: 0x1, payload: Array(bomb.readableBytesView), rsv: 0b100)
        guard case .close(let code, _)? = await client.receive() else {
            Issue.record("expected a close frame")
            return
        }
        #expect(code == 1009)
        try await server.stop()
    }

    @Test func rsv1WithoutNegotiationIsAProtocolError() async throws {
        let server = try await Self.server()
        let client = try await Self.connect(server, offer: nil)
        #expect(client.head.header("sec-websocket-extensions") == nil)
        try await client.sendFrame(opcode: 0x1, payload: [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], rsv: 0b100)
        guard case .close(let code, _)? = await client.receive() else {
            Issue.record("expected a close frame")
            return
        }
        #expect(code == 1002)
        try await server.stop()
    }

    @Test func compressionCanBeSwitchedOff() async throws {
        let server = try await TestServer.start {
            $0.testing.echoEndpoint = true
            $0.webSocket.compression = false
        }
        let client = try await Self.connect(server, offer: "permessage-deflate")
        #expect(client.head.header("sec-websocket-extensions") == nil)
        await client.close()
        try await server.stop()
    }
}

/// The word-at-a-time unmasking gives exactly NIO's bytes.
struct UnmaskTests {
    @Test(arguments: [0, 1, 3, 7, 8, 9, 125, 1_000])
    func unmaskedPayloadMatchesNIO(length: Int) {
        let payload = ByteBuffer(bytes: (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        let frame = WebSocketFrame(fin: true, opcode: .binary, maskKey: WebSocketMaskingKey([0x12, 0x34, 0xAB, 0xCD]), data: payload)
        #expect(frame.unmaskedPayload == frame.unmaskedData)
    }
}

import NIOCore
import NIOEmbedded
import NIOWebSocket
import SwitchboardBroker
import SwitchboardCore

@testable import SwitchboardServer

/// ``StreamServices`` without a server, for handler-level tests: the in-memory engine and a hub whose one event loop is
/// the test channel's, put together as `SwitchboardServer.makeService` does. Limits are lifted as in ``TestServer``.
func makeTestStreamServices(
    loop: any EventLoop, verifier: TokenVerifier, _ configure: (inout HubConfiguration) -> Void = { _ in }
) throws -> StreamServices {
    var configuration = HubConfiguration()
    configuration.limits.commandsPerSecond = 0
    configuration.limits.publishesPerSecondPerUser = 0
    configuration.limits.publishesPerSecondPerChannel = 0
    configure(&configuration)
    let settings = ServerSettings(configuration)
    let metrics = ServerMetrics()
    let broker = MemoryBroker(policy: { [configuration] channel in
        (configuration.options(forNamespace: channel.namespace) ?? configuration.channelDefaults).historyPolicy
    })
    let session = SessionServices(
        engine: broker, settings: settings, tokens: verifier, metrics: metrics, audit: try AuditLog(destination: configuration.auditLog))
    return StreamServices(session: session, hub: Hub(loops: [loop], metrics: metrics, heartbeat: settings.heartbeat))
}

/// The pipeline a WebSocket hand-off installs (NIO's frame decoder, then the connection handler), for a test channel.
func webSocketHandlers(_ mode: WebSocketMode, services: StreamServices, messagePack: Bool = false) -> [any ChannelHandler] {
    [
        ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: services.settings.limits.maxMessageBytes)),
        // As `ConnectionRouter.upgrade`: the Yjs endpoint writes binary frames whatever the subprotocol.
        WebSocketConnectionHandler(mode: mode, services: services, identity: nil, messagePack: messagePack || mode.sendsBinary),
    ]
}

/// Client frames and the server's answers as wire bytes, written out by hand so the tests do not share the code they
/// check.
enum WireBytes {
    static let maskKey: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]

    /// A client frame (masked unless told otherwise), payload under 126 bytes.
    static func client(
        _ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, reservedBits: UInt8 = 0, masked: Bool = true
    ) -> ByteBuffer {
        precondition(payload.count < 126)
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | reservedBits << 4 | opcode, (masked ? 0x80 : 0) | UInt8(payload.count)]
        if masked {
            bytes += maskKey
            bytes += payload.enumerated().map { $0.element ^ maskKey[$0.offset % 4] }
        } else {
            bytes += payload
        }
        return ByteBuffer(bytes: bytes)
    }

    static func client(_ opcode: UInt8, _ text: String, fin: Bool = true) -> ByteBuffer {
        client(opcode, Array(text.utf8), fin: fin)
    }

    /// A server frame: final, unmasked, payload under 126 bytes.
    static func server(_ opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
        [0x80 | opcode, UInt8(payload.count)] + payload
    }

    static func server(_ opcode: UInt8, _ text: String) -> [UInt8] {
        server(opcode, Array(text.utf8))
    }

    static func close(_ code: UInt16, _ reason: String = "") -> [UInt8] {
        server(0x8, [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8))
    }
}

extension EmbeddedChannel {
    /// Client frames arrive in one read (one burst, ended by `channelReadComplete`); then the loop runs what the read
    /// queued (the loop hub's flush).
    func receive(_ frames: ByteBuffer...) throws {
        var bytes = ByteBuffer()
        for var frame in frames { bytes.writeBuffer(&frame) }
        try writeInbound(bytes)
        embeddedEventLoop.run()
    }

    /// Every byte written and flushed since the last call, joined.
    func sentBytes() throws -> [UInt8] {
        var bytes: [UInt8] = []
        while let buffer = try readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytesView }
        return bytes
    }
}

import Foundation
import NIOCore
import SwitchboardCore

/// What a WebSocket client receives.
public enum WebSocketMessage: Sendable, Equatable {
    case text(String)
    case binary([UInt8])
    /// The server's close frame (code nil when it sent none); the connection is over.
    case close(code: UInt16?, reason: String)
}

/// A small RFC 6455 client: the handshake, masked frames out, messages in (fragments joined, pings answered).
///
/// Used by `switchboard subscribe` and by the end-to-end tests, which also use ``sendFrame(opcode:payload:fin:masked:)``
/// to send frames a well-behaved client never would.
public final class WebSocketClient {
    public let connection: ByteConnection
    public let head: HTTPResponseHead
    private var reader: ByteReader
    private var closed = false
    /// Whether ``receive()`` answers ping frames (a client that stops answering looks dead to the server).
    public var answersPings = true
    /// Pong frames seen by ``receive()`` (they carry no message).
    public private(set) var pongsReceived = 0

    private init(connection: ByteConnection, head: HTTPResponseHead, reader: ByteReader) {
        self.connection = connection
        self.head = head
        self.reader = reader
    }

    /// The subprotocol the server accepted, if any.
    public var subprotocol: String? { head.header("sec-websocket-protocol") }

    /// Connects and upgrades; throws ``HTTPRefusal`` with the server's status and body when it refuses, or with status 101
    /// and the reason when the `101` is not a valid answer to this handshake (``WebSocketHandshake``).
    public static func connect(
        host: String, port: Int, path: String, subprotocols: [String] = ["switchboard.v1.json"], headers: [(String, String)] = [],
        tls: ClientTLS? = nil
    ) async throws -> WebSocketClient {
        let connection = try await ByteConnection.connect(host: host, port: port, tls: tls)
        var reader = connection.reader()
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        var request = "GET \(path) HTTP/1.1\r\nhost: \(host):\(port)\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
        request += "sec-websocket-key: \(key)\r\nsec-websocket-version: 13\r\n"
        if !subprotocols.isEmpty { request += "sec-websocket-protocol: \(subprotocols.joined(separator: ", "))\r\n" }
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        try await connection.write(request)
        guard let head = await HTTPResponseHead.read(from: &reader) else {
            await connection.close()
            throw HTTPRefusal(status: 0, body: "connection closed during the handshake")
        }
        guard head.status == 101 else {
            let length = head.contentLength ?? 0
            let body = await reader.read(exactly: length) ?? ByteBuffer()
            await connection.close()
            throw HTTPRefusal(status: head.status, body: String(decoding: body.readableBytesView, as: UTF8.self), head: head)
        }
        let offered = subprotocols + headers.filter { $0.0.lowercased() == "sec-websocket-protocol" }.flatMap { Self.tokens($0.1) }
        if let problem = WebSocketHandshake.problem(in: head, key: key, offeredSubprotocols: offered) {
            await connection.close()
            throw HTTPRefusal(status: head.status, body: problem, head: head)
        }
        return WebSocketClient(connection: connection, head: head, reader: reader)
    }

    private static func tokens(_ list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingWhitespace() }
    }

    /// The next message; nil once the connection has ended (after a `.close`, or abruptly).
    public func receive() async -> WebSocketMessage? {
        guard !closed else { return nil }
        var fragments: [UInt8] = []
        var fragmentOpcode: UInt8?
        while let frame = await readFrame() {
            switch frame.opcode {
            case 0x8:
                closed = true
                let code = frame.payload.count >= 2 ? UInt16(frame.payload[0]) << 8 | UInt16(frame.payload[1]) : nil
                let reason = frame.payload.count > 2 ? String(decoding: frame.payload[2...], as: UTF8.self) : ""
                if answersPings { try? await sendFrame(opcode: 0x8, payload: Array(frame.payload.prefix(2))) }
                await connection.close()
                return .close(code: code, reason: reason)
            case 0x9:
                if answersPings { try? await sendFrame(opcode: 0xA, payload: frame.payload) }
            case 0xA:
                pongsReceived += 1
            case 0x0:
                fragments += frame.payload
                if frame.fin, let opcode = fragmentOpcode { return message(opcode: opcode, payload: fragments) }
            default:
                if frame.fin { return message(opcode: frame.opcode, payload: frame.payload) }
                fragmentOpcode = frame.opcode
                fragments = frame.payload
            }
        }
        closed = true
        return nil
    }

    /// The next text message, skipping binary ones; nil at the end.
    public func receiveText() async -> String? {
        while let message = await receive() {
            switch message {
            case .text(let text): return text
            case .binary: continue
            case .close: return nil
            }
        }
        return nil
    }

    private func message(opcode: UInt8, payload: [UInt8]) -> WebSocketMessage {
        opcode == 0x1 ? .text(String(decoding: payload, as: UTF8.self)) : .binary(payload)
    }

    public func send(text: String) async throws {
        try await sendFrame(opcode: 0x1, payload: Array(text.utf8))
    }

    /// Sends text messages in one write, so they reach the server together however slowly this process runs (tests
    /// that must exceed a rate per second on a loaded machine).
    public func send(texts: [String]) async throws {
        var frames = ByteBuffer()
        for text in texts {
            var frame = Self.encodeFrame(opcode: 0x1, payload: Array(text.utf8), fin: true, masked: true, rsv: 0)
            frames.writeBuffer(&frame)
        }
        try await connection.write(frames)
    }

    /// Sends one frame as given; `masked: false` breaks the protocol on purpose.
    public func sendFrame(opcode: UInt8, payload: [UInt8], fin: Bool = true, masked: Bool = true, rsv: UInt8 = 0) async throws {
        try await connection.write(Self.encodeFrame(opcode: opcode, payload: payload, fin: fin, masked: masked, rsv: rsv))
    }

    /// Sends a close frame and waits for the server's close (or the end of the connection).
    public func close(code: UInt16 = 1000) async {
        try? await sendFrame(opcode: 0x8, payload: [UInt8(code >> 8), UInt8(code & 0xFF)])
        while let message = await receive() {
            if case .close = message { break }
        }
        await connection.close()
    }

    static func encodeFrame(opcode: UInt8, payload: [UInt8], fin: Bool, masked: Bool, rsv: UInt8) -> ByteBuffer {
        let maskingKey = masked ? UInt32.random(in: .min ... .max) : nil
        var buffer = ByteBuffer()
        WebSocketFraming.writeHeader(
            into: &buffer, firstByte: (fin ? 0x80 : 0) | (rsv << 4) | opcode, maskingKey: maskingKey, payloadLength: payload.count)
        if let maskingKey {
            let mask = withUnsafeBytes(of: maskingKey.bigEndian) { Array($0) }
            buffer.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        } else {
            buffer.writeBytes(payload)
        }
        return buffer
    }

    private struct Frame {
        var fin: Bool
        var opcode: UInt8
        var payload: [UInt8]
    }

    private func readFrame() async -> Frame? {
        guard let header = await reader.read(exactly: 2) else { return nil }
        let first = header.getInteger(at: header.readerIndex, as: UInt8.self)!
        let second = header.getInteger(at: header.readerIndex + 1, as: UInt8.self)!
        var length = Int(second & 0x7F)
        if length == 126 {
            guard let extended = await reader.read(exactly: 2) else { return nil }
            length = Int(extended.getInteger(at: extended.readerIndex, as: UInt16.self)!)
        } else if length == 127 {
            guard let extended = await reader.read(exactly: 8) else { return nil }
            length = Int(extended.getInteger(at: extended.readerIndex, as: UInt64.self)!)
        }
        guard let payload = await reader.read(exactly: length) else { return nil }
        return Frame(fin: first & 0x80 != 0, opcode: first & 0x0F, payload: Array(payload.readableBytesView))
    }
}

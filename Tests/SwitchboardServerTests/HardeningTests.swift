import Foundation
import NIOConcurrencyHelpers
import NIOCore
import SwitchboardBroker
import SwitchboardClient
import SwitchboardCore
import Testing

/// Floods a hostile client can send from outside, each over a real socket, with a healthy client on the same server.
@Suite(.timeLimit(.minutes(2))) struct HardeningTests {
    /// Masked ping frames with a 125-byte payload (the largest control frame), `count` of them back to back.
    private func pings(_ count: Int) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: count * 131)
        let mask: [UInt8] = [1, 2, 3, 4]
        for _ in 0..<count {
            buffer.writeBytes([0x89, 0x80 | 125] + mask)
            buffer.writeBytes((0..<125).map { UInt8(ascii: "p") ^ mask[$0 % 4] })
        }
        return buffer
    }

    /// A client that pings without reading the pongs used to make the server queue every pong (1.4 GB in 12 s). Now a
    /// full socket holds back all but the latest pong: far fewer pongs arrive than pings were sent, and a publication
    /// sent after the flood still arrives.
    @Test(arguments: ["/connection/websocket", "/raw/ws/flood"])
    func pingsWhosePongsAreNeverReadCostOnlyOnePendingPong(path: String) async throws {
        let server = try await TestServer.start()
        let flooder = try await server.webSocket(path: path)
        if path == "/connection/websocket" {
            #expect(try await flooder.command(#"{"id":1,"cmd":"subscribe","channel":"flood"}"#, id: 1)?["result"] != nil)
        }
        // Keep the kernel's share small, so the server's own queueing is what the count shows.
        try await flooder.connection.channel.setOption(ChannelOptions.socketOption(.so_rcvbuf), value: 256 << 10).get()
        try await flooder.connection.setReading(false)
        let rounds = 100
        let perRound = 1000
        for _ in 0..<rounds { try await flooder.connection.write(pings(perRound)) }
        // A healthy client on the same server is served while the flooder waits.
        let healthy = try await server.webSocket()
        #expect(try await healthy.command(#"{"id":1,"cmd":"ping"}"#, id: 1)?["result"] != nil)
        try await server.publish("flood", #"{"end":true}"#)
        try await flooder.connection.setReading(true)
        var sawEnd = false
        while let text = await flooder.receiveText() {
            if text.contains(#""end""#) {
                sawEnd = true
                break
            }
        }
        #expect(sawEnd)
        // 100,000 pongs of 127 bytes are 12.7 MB; the kernel's send buffer (at most net.ipv4.tcp_wmem's 4 MB here) and
        // NIO's write watermark hold a third of that at most.
        #expect(flooder.pongsReceived < rounds * perRound / 2, "pongs received: \(flooder.pongsReceived)")
        #expect(flooder.pongsReceived > 0)
        try await server.stop()
    }
}

/// Monotonic nanoseconds moved by hand, for the engine's TTL.
private final class HandClock: Sendable {
    private let box = NIOLockedValueBox<UInt64>(1)
    var now: UInt64 { box.withLockedValue { $0 } }
    func advance(seconds: UInt64) { box.withLockedValue { $0 += seconds * 1_000_000_000 } }
}

/// Channel state given back once nothing in it can be asked for (it used to cost ~21 KB per channel for ever).
@Suite(.timeLimit(.minutes(1))) struct ChannelReclaimTests {
    @Test func idleChannelsAreForgottenWhileASubscribedOneKeepsItsStream() async throws {
        let clock = HandClock()
        let broker = MemoryBroker(
            policy: { _ in HistoryPolicy(capacity: 100, ttl: .seconds(60)) }, now: { clock.now }, sweepInterval: nil)
        let server = try await TestServer.start(broker: broker)
        let subscriber = try await server.webSocket()
        #expect(try await subscriber.command(#"{"id":1,"cmd":"subscribe","channel":"chat:kept"}"#, id: 1)?["result"] != nil)
        #expect(try await server.publish("chat:kept", "1") == 1)
        let batch = (0..<500).map { #"{"channel":"chat:gone\#($0)","data":\#($0)}"# }.joined(separator: ",")
        let published = try await server.http("POST", "/api/publish", body: #"{"publications":[\#(batch)]}"#)
        #expect(published.status == 200)
        let gone = try await server.http("GET", "/api/history?channel=chat:gone0")
        let epoch = try #require(gone.json?["epoch"] as? String)
        #expect(broker.channelCount == 501)

        clock.advance(seconds: 61)
        #expect(broker.reclaimIdleChannels() == 500)
        #expect(broker.channelCount == 1)

        // The subscribed channel's stream continues: offset 2, delivered live.
        #expect(try await server.publish("chat:kept", "2") == 2)
        var offsets: [Int] = []
        while offsets.last != 2, let text = await subscriber.receiveText() {
            if let message = object(text), message["push"] as? String == "publication" { offsets.append(message["offset"] as? Int ?? -1) }
        }
        #expect(offsets == [1, 2])
        // A client coming back with a position in a forgotten channel is told to start over, never handed a gap.
        let returning = try await server.webSocket()
        let reply = try await returning.command(
            #"{"id":1,"cmd":"subscribe","channel":"chat:gone0","since":{"epoch":"\#(epoch)","offset":1}}"#, id: 1)
        #expect((reply?["result"] as? [String: Any])?["recovered"] as? Bool == false)
        try await server.stop()
    }
}

/// Handshakes an attacker shapes: an HTTP/1.0 upgrade, a subprotocol header meant to be echoed back.
@Suite(.timeLimit(.minutes(1))) struct HandshakeHardeningTests {
    private func rawRequest(_ server: TestServer, _ request: String) async throws -> (head: HTTPResponseHead, body: String) {
        let connection = try await ByteConnection.connect(host: "127.0.0.1", port: server.port)
        var reader = connection.reader()
        try await connection.write(request)
        let head = try #require(await HTTPResponseHead.read(from: &reader))
        let length = head.header("content-length").flatMap(Int.init) ?? 0
        let body = await reader.read(exactly: length) ?? ByteBuffer()
        await connection.close()
        return (head, String(decoding: body.readableBytesView, as: UTF8.self))
    }

    private func upgrade(_ version: String, extra: String = "") -> String {
        "GET /connection/websocket \(version)\r\nhost: 127.0.0.1\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
            + "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\(extra)\r\n"
    }

    @Test func aWebSocketUpgradeOverHTTP10IsRefusedWith400() async throws {
        let server = try await TestServer.start()
        let refused = try await rawRequest(server, upgrade("HTTP/1.0"))
        #expect(refused.head.status == 400)
        #expect(errorCode(object(refused.body)) == 107)
        #expect(refused.body.contains("HTTP/1.1"))
        let healthy = try await server.webSocket()
        #expect(try await healthy.command(#"{"id":1,"cmd":"ping"}"#, id: 1)?["result"] != nil)
        try await server.stop()
    }

    @Test func aHugeSubprotocolOfferIsNotEchoedBack() async throws {
        let server = try await TestServer.start()
        let offer = (0..<3000).map { "p\($0)" }.joined(separator: ", ")  // ~20 KB
        let refused = try await rawRequest(server, upgrade("HTTP/1.1", extra: "sec-websocket-protocol: \(offer)\r\n"))
        #expect(refused.head.status == 400)
        #expect(errorCode(object(refused.body)) == 113)
        #expect(refused.body.utf8.count < 1024, "refusal body of \(refused.body.utf8.count) bytes")
        try await server.stop()
    }
}

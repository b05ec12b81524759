import Foundation
import NIOCore
import SwitchboardClient
import SwitchboardCore
import Testing

/// Replies follow command order even when a flood ends the connection.
@Suite(.timeLimit(.minutes(1))) struct CommandOrderTests {
    /// 10,000 subscribe commands sent at once at the default rate (100 per second, burst 200): every accepted command
    /// gets its reply (a subscription, or 106 past `limits.max_subscriptions_per_connection`), then the refusals
    /// (128) — mixed with commands accepted as tokens refill — all in id order with no gap, then, at the 20th strike
    /// (a refusal adds one, an accepted command takes one away), the disconnect push and close 4004. A healthy client on the same server is served afterwards.
    @Test func aCommandFloodGetsEveryAcceptedReplyInOrderBeforeTheClose() async throws {
        let server = try await TestServer.start { $0.limits.commandsPerSecond = 100 }
        let flooder = try await server.webSocket()
        // Sent before reading, in ten writes of 1,000 masked frames: the server answers while the flood arrives and
        // stops reading after the cut-off (a write may then fail).
        for first in stride(from: 1, through: 10_000, by: 1000) {
            guard (try? await flooder.connection.write(Self.subscribeFrames(first..<first + 1000))) != nil else { break }
        }
        var replyIDs: [Int] = []
        var codes: [Int?] = []
        var disconnectCode: Int?
        var closeCode: UInt16?
        while let message = await flooder.receive() {
            switch message {
            case .text(let text):
                let decoded = try #require(object(text))
                if let id = decoded["id"] as? Int {
                    replyIDs.append(id)
                    codes.append(errorCode(decoded))
                } else if decoded["push"] as? String == "disconnect" {
                    disconnectCode = decoded["code"] as? Int
                }
            case .close(let code, _):
                closeCode = code
            default:
                break
            }
        }
        #expect(replyIDs.count >= 220)
        #expect(replyIDs == Array(1...replyIDs.count), "replies out of order or missing")
        #expect(codes.prefix(128).allSatisfy { $0 == nil })
        // Strikes counted the way the server counts them: they reach 20 with the last reply, not before.
        var strikes = 0
        var strikesBeforeLast = 0
        for (index, code) in codes.enumerated() {
            strikes = code == 128 ? strikes + 1 : max(0, strikes - 1)
            if index < codes.count - 1 { strikesBeforeLast = max(strikesBeforeLast, strikes) }
        }
        #expect(codes.last == 128)
        #expect(strikes == 20)
        #expect(strikesBeforeLast < 20)
        #expect(disconnectCode == 4004)
        #expect(closeCode == 4004)
        let healthy = try await server.webSocket()
        #expect(try await healthy.command(#"{"id":1,"cmd":"ping"}"#, id: 1)?["result"] != nil)
        try await server.stop()
    }

    /// Masked text frames `{"id":N,"cmd":"subscribe","channel":"flood:N"}`, back to back.
    private static func subscribeFrames(_ ids: Range<Int>) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: ids.count * 64)
        let mask: [UInt8] = [7, 1, 9, 3]
        for id in ids {
            let payload = Array(#"{"id":\#(id),"cmd":"subscribe","channel":"flood:\#(id)"}"#.utf8)
            buffer.writeBytes([0x81, 0x80 | UInt8(payload.count)] + mask)
            buffer.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        }
        return buffer
    }
}

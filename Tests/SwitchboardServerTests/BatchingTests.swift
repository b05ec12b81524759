import SwitchboardClient
import Testing

@Suite(.timeLimit(.minutes(1))) struct BatchingTests {
    /// Reads frames until `count` publications arrived; returns their offsets and how many frames carried them.
    private func publications(_ ws: WebSocketClient, count: Int) async -> (offsets: [Int], frames: Int) {
        var offsets: [Int] = []
        var frames = 0
        while offsets.count < count, let text = await ws.receiveText() {
            let found = text.split(separator: "\n").compactMap { object(String($0)) }.filter { $0["push"] as? String == "publication" }
            if !found.isEmpty { frames += 1 }
            offsets += found.map { $0["offset"] as! Int }
        }
        return (offsets, frames)
    }

    @Test func aClientThatAsksForBatchesGetsMessagesOfOneTickInOneFrame() async throws {
        let server = try await TestServer.start { $0.channelDefaults.historySize = 500 }
        try await server.publishBatch((1...200).map { #"{"channel":"burst","data":\#($0)}"# })
        let epoch = try await server.http("GET", "/api/history?channel=burst").json?["epoch"] as! String
        let ws = try await server.webSocket()
        _ = try await ws.command(#"{"id":1,"cmd":"connect","batch":true}"#, id: 1)
        // A recovery writes all missed publications in one tick: they share frames.
        try await ws.send(text: #"{"id":2,"cmd":"subscribe","channel":"burst","since":{"epoch":"\#(epoch)","offset":0}}"#)
        let received = await publications(ws, count: 200)
        #expect(received.offsets == Array(1...200))
        #expect(received.frames < 10)
        #expect(try await server.metric("switchboard_batched_messages_total") ?? 0 >= 200)
    }

    @Test func aLiveBurstToABatchingClientArrivesComplete() async throws {
        let server = try await TestServer.start()
        let ws = try await server.webSocket()
        _ = try await ws.command(#"{"id":1,"cmd":"connect","batch":true}"#, id: 1)
        _ = try await ws.command(#"{"id":2,"cmd":"subscribe","channel":"live"}"#, id: 2)
        try await server.publishBatch((1...200).map { #"{"channel":"live","data":\#($0)}"# })
        #expect(await publications(ws, count: 200).offsets == Array(1...200))
    }

    @Test func withoutAskingEveryMessageKeepsItsOwnFrame() async throws {
        let server = try await TestServer.start()
        let ws = try await server.webSocket()
        _ = try await ws.command(#"{"id":2,"cmd":"subscribe","channel":"single"}"#, id: 2)
        try await server.publishBatch((1...50).map { #"{"channel":"single","data":\#($0)}"# })
        let received = await publications(ws, count: 50)
        #expect(received.offsets == Array(1...50))
        #expect(received.frames == 50)
    }
}

import Testing

@Suite(.timeLimit(.minutes(1))) struct ShutdownTests {
    /// SIGTERM's path: clients are told to reconnect, streams end, and the server stops within the drain bound.
    @Test func gracefulShutdownTellsClientsToReconnectAndCompletes() async throws {
        let server = try await TestServer.start()
        let ws = try await server.webSocket()
        _ = try await ws.command(#"{"id":1,"cmd":"subscribe","channel":"bye"}"#, id: 1)
        let sse = try await server.sse(path: "/connection/sse?channel=bye")
        _ = await sse.nextPush("subscribed")

        let stopping = Task { try await server.stop() }

        let advice = await ws.nextPush("disconnect")
        #expect(advice?["code"] as? Int == 4001)
        #expect(advice?["reconnect"] as? Bool == true)
        #expect(await ws.closeCode() == 4001)
        let sseAdvice = await sse.nextPush("disconnect")
        #expect(sseAdvice?["reconnect"] as? Bool == true)
        #expect(await sse.next() == nil)
        try await stopping.value
    }

    @Test func shutdownDeliversWhatWasPublishedBeforeIt() async throws {
        let server = try await TestServer.start()
        let ws = try await server.webSocket()
        _ = try await ws.command(#"{"id":1,"cmd":"subscribe","channel":"last"}"#, id: 1)
        for value in 1...50 { try await server.publish("last", "\(value)") }
        let stopping = Task { try await server.stop() }
        var offsets: [Int] = []
        while let text = await ws.receiveText() {
            if let push = object(text), push["push"] as? String == "publication" { offsets.append(push["offset"] as! Int) }
        }
        #expect(offsets == Array(1...50))
        try await stopping.value
    }
}

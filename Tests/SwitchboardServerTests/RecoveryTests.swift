import Testing

@Suite(.timeLimit(.minutes(1))) struct RecoveryTests {
    /// The core promise: a subscriber whose connection is cut mid-stream gets back exactly what it missed.
    @Test func recoveryAfterForcedDisconnectHasNoGapAndNoDuplicate() async throws {
        let server = try await TestServer.start { $0.channelDefaults.historySize = 2000 }
        let total = 1000
        let channel = "chat:recovery"
        var received: [Int] = []
        var offsets: [Int] = []
        var epoch = ""

        let first = try await server.webSocket()
        _ = try await first.command(#"{"id":1,"cmd":"subscribe","channel":"\#(channel)"}"#, id: 1)
        let publisher = Task {
            let client = try await server.webSocket()
            for seq in 1...total {
                try await client.send(text: #"{"id":\#(seq),"cmd":"publish","channel":"\#(channel)","data":{"seq":\#(seq)}}"#)
            }
            var replies = 0
            while replies < total, let text = await client.receiveText() {
                if object(text)?["result"] != nil { replies += 1 }
            }
            return replies
        }
        while received.count < 300, let push = await first.nextPush("publication") {
            received.append((push["data"] as! [String: Any])["seq"] as! Int)
            offsets.append(push["offset"] as! Int)
            epoch = push["epoch"] as! String
        }
        await first.connection.close()  // abrupt: no close handshake

        let second = try await server.webSocket()
        let resume = #"{"id":1,"cmd":"subscribe","channel":"\#(channel)","since":{"epoch":"\#(epoch)","offset":\#(offsets.last!)}}"#
        let reply = try await second.command(resume, id: 1)
        #expect((reply?["result"] as? [String: Any])?["recovered"] as? Bool == true)
        while received.count < total, let push = await second.nextPush("publication") {
            received.append((push["data"] as! [String: Any])["seq"] as! Int)
            offsets.append(push["offset"] as! Int)
        }
        #expect(try await publisher.value == total)
        #expect(received == Array(1...total))
        #expect(offsets == Array(1...total))
        try await server.stop()
    }

    @Test func recoveryBeyondTheHistoryWindowAnswersRecoveredFalse() async throws {
        let server = try await TestServer.start { $0.channelDefaults.historySize = 5 }
        var epoch = ""
        for value in 1...20 { try await server.publish("small:window", "\(value)") }
        let probe = try await server.http("GET", "/api/history?channel=small:window")
        epoch = probe.json?["epoch"] as? String ?? ""
        let client = try await server.webSocket()
        let reply = try await client.command(
            #"{"id":1,"cmd":"subscribe","channel":"small:window","since":{"epoch":"\#(epoch)","offset":3}}"#, id: 1
        )
        let result = reply?["result"] as? [String: Any]
        #expect(result?["recovered"] as? Bool == false)
        #expect(result?["offset"] as? Int == 20)
        #expect(result?["reason"] as? String == "missed publications are older than the history window")
        try await server.stop()
    }

    @Test func recoveryFromAnotherEpochAnswersRecoveredFalse() async throws {
        let server = try await TestServer.start()
        try await server.publish("e:1", "1")
        let client = try await server.webSocket()
        let reply = try await client.command(#"{"id":1,"cmd":"subscribe","channel":"e:1","since":{"epoch":"older","offset":1}}"#, id: 1)
        let result = reply?["result"] as? [String: Any]
        #expect(result?["recovered"] as? Bool == false)
        #expect(result?["reason"] as? String == "epoch changed: history was lost")
        try await server.stop()
    }

    @Test func sseResumesEveryChannelFromLastEventID() async throws {
        let server = try await TestServer.start()
        let path = "/connection/sse?channel=s:a&channel=s:b"
        let first = try await server.sse(path: path)
        _ = await first.nextPush("subscribed")
        _ = await first.nextPush("subscribed")
        try await server.publish("s:a", #""a1""#)
        _ = await first.nextPush("publication")
        let lastEventID = try #require(first.lastEventID)
        await first.close()

        try await server.publish("s:b", #""b1""#)
        try await server.publish("s:a", #""a2""#)
        let second = try await server.sse(path: path, lastEventID: lastEventID)
        var starts: [String] = []
        var data: [String] = []
        while data.count < 2, let event = await second.next() {
            let message = try #require(object(event.data))
            if message["push"] as? String == "subscribed" { starts.append(message["channel"] as! String) }
            if message["push"] as? String == "publication" { data.append(message["data"] as! String) }
            #expect(message["push"] as? String != "reset")
        }
        #expect(Set(starts) == ["s:a", "s:b"])
        #expect(Set(data) == ["b1", "a2"])
        try await server.stop()
    }

    @Test func sseResumeBeyondTheWindowYieldsAnExplicitReset() async throws {
        let server = try await TestServer.start { $0.channelDefaults.historySize = 2 }
        let first = try await server.sse(path: "/connection/sse?channel=w:1")
        _ = await first.nextPush("subscribed")
        let lastEventID = try #require(first.lastEventID)
        await first.close()
        for value in 1...5 { try await server.publish("w:1", "\(value)") }
        let second = try await server.sse(path: "/connection/sse?channel=w:1", lastEventID: lastEventID)
        let reset = await second.nextPush("reset")
        #expect(reset?["recovered"] as? Bool == false)
        #expect(reset?["offset"] as? Int == 5)
        try await server.stop()
    }
}

@Suite(.timeLimit(.minutes(1))) struct SSEResumePositionTests {
    /// The first event of a resumed stream must still name the requested position: the recovered publications that
    /// follow advance it one by one, so a drop right after the first event loses nothing.
    @Test func dropRightAfterAResumeStartLosesNothing() async throws {
        let server = try await TestServer.start()
        let first = try await server.sse(path: "/raw/sse/drop")
        try await server.publish("drop", "1")
        _ = await first.next()
        let position = try #require(first.lastEventID)
        await first.close()
        for value in 2...4 { try await server.publish("drop", "\(value)") }

        let second = try await server.sse(path: "/connection/sse?channel=drop", lastEventID: position)
        _ = await second.nextPush("subscribed")
        let afterStart = try #require(second.lastEventID)
        await second.close()
        #expect(afterStart == position)

        let third = try await server.sse(path: "/connection/sse?channel=drop", lastEventID: afterStart)
        var data: [Int] = []
        while data.count < 3, let push = await third.nextPush("publication") { data.append(push["data"] as! Int) }
        #expect(data == [2, 3, 4])
        try await server.stop()
    }
}

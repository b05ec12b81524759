import SwitchboardClient
import SwitchboardCore
import Testing

/// The `history` command over a connection and `GET /api/history`'s `before` and `latest` (protocol.md §4.13, §10).
@Suite(.timeLimit(.minutes(1))) struct HistoryCommandTests {
    private func offsets(_ page: [String: Any]?) -> [Int] {
        ((page?["publications"] as? [[String: Any]]) ?? []).compactMap { $0["offset"] as? Int }
    }

    private func result(_ reply: [String: Any]?) -> [String: Any]? { reply?["result"] as? [String: Any] }

    /// A server with `chat:h` holding publications 1…10 (`{"n":N}`).
    private func serverWithTen() async throws -> TestServer {
        let server = try await TestServer.start()
        for n in 1...10 { try await server.publish("chat:h", #"{"n":\#(n)}"#) }
        return server
    }

    @Test func theCommandPagesForwardFromAPositionLikeTheHTTPAPI() async throws {
        let server = try await serverWithTen()
        let ws = try await server.webSocket()
        let first = result(try await ws.command(#"{"id":1,"cmd":"history","channel":"chat:h","limit":3}"#, id: 1))
        #expect(offsets(first) == [1, 2, 3])
        #expect(first?["offset"] as? Int == 10)
        let epoch = try #require(first?["epoch"] as? String)
        let next = result(
            try await ws.command(#"{"id":2,"cmd":"history","channel":"chat:h","since":{"epoch":"\#(epoch)","offset":3},"limit":3}"#, id: 2))
        #expect(offsets(next) == [4, 5, 6])
        #expect(next?["recovered"] as? Bool == true)
        #expect(((next?["publications"] as? [[String: Any]])?.first?["data"] as? [String: Any])?["n"] as? Int == 4)
        let api = try await server.http("GET", "/api/history?channel=chat:h&since=\(epoch):3&limit=3").json
        #expect(offsets(api) == [4, 5, 6])
        // A position of another epoch: the oldest held and recovered false.
        let stale = result(
            try await ws.command(#"{"id":3,"cmd":"history","channel":"chat:h","since":{"epoch":"zzz","offset":3},"limit":2}"#, id: 3))
        #expect(offsets(stale) == [1, 2])
        #expect(stale?["recovered"] as? Bool == false)
    }

    @Test func latestAndBeforeLoadEarlierMessagesNewestPageFirst() async throws {
        let server = try await serverWithTen()
        let ws = try await server.webSocket()
        let latest = result(try await ws.command(#"{"id":1,"cmd":"history","channel":"chat:h","latest":true,"limit":4}"#, id: 1))
        #expect(offsets(latest) == [7, 8, 9, 10])
        let earlier = result(try await ws.command(#"{"id":2,"cmd":"history","channel":"chat:h","before":7,"limit":4}"#, id: 2))
        #expect(offsets(earlier) == [3, 4, 5, 6])
        let oldest = result(try await ws.command(#"{"id":3,"cmd":"history","channel":"chat:h","before":3,"limit":4}"#, id: 3))
        #expect(offsets(oldest) == [1, 2])
        let none = result(try await ws.command(#"{"id":4,"cmd":"history","channel":"chat:h","before":1}"#, id: 4))
        #expect(offsets(none) == [])
        #expect(offsets(try await server.http("GET", "/api/history?channel=chat:h&latest=true&limit=2").json) == [9, 10])
        #expect(offsets(try await server.http("GET", "/api/history?channel=chat:h&before=9&limit=2").json) == [7, 8])
        // Fewer held than asked: all of them.
        #expect(
            offsets(result(try await ws.command(#"{"id":5,"cmd":"history","channel":"chat:h","latest":true,"limit":50}"#, id: 5))) == Array(1...10))
    }

    @Test func badQueriesAreRefusedAndTheConnectionGoesOn() async throws {
        let server = try await serverWithTen()
        let ws = try await server.webSocket()
        let refusals: [(String, Int)] = [
            (#""limit":0"#, 107), (#""limit":1001"#, 107), (#""before":0"#, 107), (#""before":"7""#, 107), (#""latest":1"#, 107),
            (#""latest":true,"before":3"#, 107), (#""since":"abc:1""#, 114),
        ]
        for (index, (members, code)) in refusals.enumerated() {
            let id = index + 1
            #expect(errorCode(try await ws.command(#"{"id":\#(id),"cmd":"history","channel":"chat:h",\#(members)}"#, id: id)) == code, "\(members)")
        }
        #expect(errorCode(try await ws.command(#"{"id":21,"cmd":"history","channel":"bad channel"}"#, id: 21)) == 108)
        #expect(try await server.http("GET", "/api/history?channel=chat:h&latest=true&before=3").status == 400)
        #expect(try await server.http("GET", "/api/history?channel=chat:h&before=x").status == 400)
        #expect(try await ws.command(#"{"id":22,"cmd":"ping"}"#, id: 22)?["result"] != nil)
    }

    @Test func readingHistoryNeedsTheRightToSubscribe() async throws {
        let server = try await TestServer.start { configuration in
            var secret = configuration.channelDefaults
            secret.isPrivate = true
            configuration.namespaces["private"] = secret
        }
        try await server.publish("private:room", #""secret""#)
        let ws = try await server.webSocket()
        _ = try await ws.connectedClientID(token: try await TestServer.token("alice"))
        #expect(errorCode(try await ws.command(#"{"id":1,"cmd":"history","channel":"private:room"}"#, id: 1)) == 122)
        // A subscription opened with a subscription token proves the right.
        let token = try await TestServer.token("alice", channel: "private:room")
        _ = try await ws.command(#"{"id":2,"cmd":"subscribe","channel":"private:room","token":"\#(token)"}"#, id: 2)
        #expect(offsets(result(try await ws.command(#"{"id":3,"cmd":"history","channel":"private:room"}"#, id: 3))) == [1])
    }
}

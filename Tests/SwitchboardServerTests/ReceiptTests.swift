import SwitchboardClient
import SwitchboardCore
import Testing

/// A server whose `dm` namespace keeps receipts.
func receiptServer() async throws -> TestServer {
    try await TestServer.start { configuration in
        var dm = configuration.channelDefaults
        dm.receipts = true
        configuration.namespaces["dm"] = dm
    }
}

/// A WebSocket connected as `user` and subscribed to `channel`.
func member(_ server: TestServer, _ user: String, _ channel: String, since: String? = nil) async throws -> WebSocketClient {
    let ws = try await server.webSocket()
    _ = try await ws.connectedClientID(token: try await TestServer.token(user))
    let resume = since.map { #","since":\#($0)"# } ?? ""
    _ = try await ws.command(#"{"id":80,"cmd":"subscribe","channel":"\#(channel)"\#(resume)}"#, id: 80)
    return ws
}

private func result(_ reply: [String: Any]?) -> [String: Any]? { reply?["result"] as? [String: Any] }

@Suite(.timeLimit(.minutes(1))) struct ReceiptTests {
    @Test func thePublisherSeesEachRecipientDeliverAndRead() async throws {
        let server = try await receiptServer()
        let alice = try await member(server, "alice", "dm:1")
        let bob = try await member(server, "bob", "dm:1")
        let carol = try await member(server, "carol", "dm:1")
        let published = try await alice.command(#"{"id":1,"cmd":"publish","channel":"dm:1","data":"hi","receipts":true}"#, id: 1)
        let offset = result(published)?["offset"] as! Int
        let push = await bob.nextPush("publication")
        #expect(push?["receipts"] as? Bool == true)
        #expect(result(try await bob.command(#"{"id":2,"cmd":"ack","channel":"dm:1","offset":\#(offset)}"#, id: 2)) != nil)
        let delivered = await alice.nextPush("receipt")
        #expect(delivered?["user"] as? String == "bob")
        #expect(delivered?["status"] as? String == "delivered")
        _ = try await bob.command(#"{"id":3,"cmd":"ack","channel":"dm:1","offset":\#(offset),"status":"read"}"#, id: 3)
        #expect(await alice.nextPush("receipt")?["status"] as? String == "read")
        let receipts = result(try await alice.command(#"{"id":4,"cmd":"receipts","channel":"dm:1","offset":\#(offset)}"#, id: 4))
        let recipients = receipts?["recipients"] as? [[String: Any]]
        #expect(recipients?.map { $0["user"] as! String } == ["bob", "carol"])
        #expect(recipients?.first?["read"] as? Bool == true)
        #expect(recipients?.last?["delivered"] as? Bool == false)
        #expect(receipts?["total"] as? Int == 2)
        #expect(receipts?["delivered"] as? Int == 1)
        #expect(receipts?["read"] as? Int == 1)
        _ = carol
    }

    @Test func aRecipientWhoRecoversThePublicationLaterAcknowledgesIt() async throws {
        let server = try await receiptServer()
        let alice = try await member(server, "alice", "dm:2")
        let epoch = try await server.http("GET", "/api/history?channel=dm:2").json?["epoch"] as! String
        _ = try await alice.command(#"{"id":1,"cmd":"publish","channel":"dm:2","data":"later","receipts":true}"#, id: 1)
        // Dave was offline when it was published; he recovers it and acknowledges it then.
        let dave = try await member(server, "dave", "dm:2", since: #"{"epoch":"\#(epoch)","offset":0}"#)
        let recovered = await dave.nextPush("publication")
        #expect(recovered?["receipts"] as? Bool == true)
        _ = try await dave.command(#"{"id":2,"cmd":"ack","channel":"dm:2","offset":1}"#, id: 2)
        let receipt = await alice.nextPush("receipt")
        #expect(receipt?["user"] as? String == "dave")
    }

    @Test func onlyThePublisherMayReadReceiptsAndOnlyUsersMayAcknowledge() async throws {
        let server = try await receiptServer()
        let alice = try await member(server, "alice", "dm:3")
        let mallory = try await member(server, "mallory", "dm:3")
        _ = try await alice.command(#"{"id":1,"cmd":"publish","channel":"dm:3","data":1,"receipts":true}"#, id: 1)
        #expect(errorCode(try await mallory.command(#"{"id":2,"cmd":"receipts","channel":"dm:3","offset":1}"#, id: 2)) == 135)
        let anonymous = try await server.webSocket()
        _ = try await anonymous.command(#"{"id":1,"cmd":"subscribe","channel":"dm:3"}"#, id: 1)
        #expect(errorCode(try await anonymous.command(#"{"id":2,"cmd":"ack","channel":"dm:3","offset":1}"#, id: 2)) == 101)
        #expect(errorCode(try await mallory.command(#"{"id":3,"cmd":"ack","channel":"dm:3","offset":99}"#, id: 3)) == 134)
    }

    @Test func receiptsNeedANamespaceThatKeepsThem() async throws {
        let server = try await receiptServer()
        let ws = try await member(server, "alice", "chat:x")
        #expect(errorCode(try await ws.command(#"{"id":1,"cmd":"publish","channel":"chat:x","data":1,"receipts":true}"#, id: 1)) == 133)
        #expect(errorCode(try await ws.command(#"{"id":2,"cmd":"ack","channel":"chat:x","offset":1}"#, id: 2)) == 133)
        let api = try await server.http("POST", "/api/publish", body: #"{"channel":"chat:x","data":1,"receipts":true}"#)
        #expect(api.status == 400)
        #expect(errorCode(api.json) == 133)
    }

    @Test func theHTTPAPIReadsReceipts() async throws {
        let server = try await receiptServer()
        let bob = try await member(server, "bob", "dm:4")
        let published = try await server.http("POST", "/api/publish", body: #"{"channel":"dm:4","data":"from the backend","receipts":true}"#)
        let offset = published.json?["offset"] as! Int
        _ = try await bob.command(#"{"id":2,"cmd":"ack","channel":"dm:4","offset":\#(offset),"status":"read"}"#, id: 2)
        let receipts = try await server.http("GET", "/api/receipts?channel=dm:4&offset=\(offset)")
        #expect(receipts.status == 200)
        #expect(receipts.json?["read"] as? Int == 1)
        #expect(try await server.http("GET", "/api/receipts?channel=dm:4&offset=77").status == 404)
        for query in ["channel=dm:4&offset=abc", "channel=dm:4&offset=0", "channel=dm:4", "offset=1"] {
            let refused = try await server.http("GET", "/api/receipts?\(query)")
            #expect(refused.status == 400)
            #expect(errorCode(refused.json) == 107)
        }
    }

    @Test func longPollSessionsAcknowledgeAndReceiveReceipts() async throws {
        let server = try await receiptServer()
        let aliceToken = try await TestServer.token("alice")
        var alice = try await PollClient.open(server, headers: [("authorization", "Bearer \(aliceToken)")])
        try await alice.post(#"[{"id":1,"cmd":"subscribe","channel":"dm:5"}]"#)
        _ = try await alice.poll { $0["id"] as? Int == 1 }
        let bobToken = try await TestServer.token("bob")
        var bob = try await PollClient.open(server, headers: [("authorization", "Bearer \(bobToken)")])
        try await bob.post(#"{"id":1,"cmd":"subscribe","channel":"dm:5"}"#)
        _ = try await bob.poll { $0["id"] as? Int == 1 }
        try await alice.post(#"{"id":2,"cmd":"publish","channel":"dm:5","data":"poll","receipts":true}"#)
        let publication = try await bob.poll { $0["push"] as? String == "publication" }.last
        try await bob.post(#"{"id":2,"cmd":"ack","channel":"dm:5","offset":\#(publication?["offset"] as! Int)}"#)
        let receipt = try await alice.poll { $0["push"] as? String == "receipt" }.last
        #expect(receipt?["user"] as? String == "bob")
    }
}

@Suite(.timeLimit(.minutes(1))) struct ReceiptsOverSSETests {
    @Test func anSSESessionAcknowledgesOverHTTPAndThePublisherHearsOfIt() async throws {
        let server = try await receiptServer()
        let alice = try await member(server, "alice", "dm:sse")
        let token = try await TestServer.token("bob")
        let sse = try await server.sse(path: "/connection/sse?channel=dm:sse", headers: [("authorization", "Bearer \(token)")])
        let address = try #require(await sse.sessionAddress())
        _ = await sse.nextPush("subscribed")
        _ = try await alice.command(#"{"id":1,"cmd":"publish","channel":"dm:sse","data":"hello","receipts":true}"#, id: 1)
        let publication = await sse.nextPush("publication")
        #expect(publication?["receipts"] as? Bool == true)
        #expect(
            try await server.request(
                "POST", "/connection/\(address)/command", body: #"{"id":2,"cmd":"ack","channel":"dm:sse","offset":1,"status":"read"}"#
            ).status == 202)
        let receipt = await alice.nextPush("receipt")
        #expect(receipt?["user"] as? String == "bob")
        #expect(receipt?["status"] as? String == "read")
    }
}

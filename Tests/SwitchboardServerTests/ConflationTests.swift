import SwitchboardClient
import SwitchboardCore
import Testing

/// A server whose `ticker` namespace conflates by key, with small socket buffers so a reader that stops reading
/// backs up the server's queue quickly.
func tickerServer(maxRate: Int = 0) async throws -> TestServer {
    try await TestServer.start { configuration in
        var ticker = configuration.channelDefaults
        ticker.conflation = true
        ticker.maxRate = maxRate
        configuration.namespaces["ticker"] = ticker
        configuration.limits.writeBufferHighWaterBytes = 16 * 1024
        configuration.limits.outboundQueueBytes = 256 * 1024
        configuration.limits.maxMessageBytes = 1024 * 1024  // batches of a hundred 2 KB updates
    }
}

private let pad = String(repeating: "p", count: 2000)

extension TestServer {
    /// Publishes a batch through the HTTP API: one request, many publications, in order.
    func publishBatch(_ items: [String]) async throws {
        let response = try await http("POST", "/api/publish", body: #"{"publications":[\#(items.joined(separator: ","))]}"#)
        guard response.status == 200 else { throw HTTPRefusal(status: response.status, body: response.bodyText) }
    }

    /// Publishes padding on `channel` until the server has started queueing for a reader that stopped reading.
    func backUp(_ channel: String, key: String? = nil) async throws {
        var rounds = 0
        while try await metric("switchboard_outbound_queue_peak_bytes") == 0 {
            let keyMember = key.map { #","key":"\#($0)""# } ?? ""
            try await publishBatch((0..<20).map { _ in #"{"channel":"\#(channel)","data":{"pad":"\#(pad)"}\#(keyMember)}"# })
            rounds += 1
            #expect(rounds < 2000, "the server never queued")
            if rounds >= 2000 { return }
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct ConflationTests {
    @Test func aSlowReaderOfAConflatingChannelGetsTheLatestValueOfEveryKeyAndStaysConnected() async throws {
        let server = try await tickerServer()
        let slow = try await server.webSocket()
        _ = try await slow.command(#"{"id":1,"cmd":"subscribe","channel":"ticker:prices"}"#, id: 1)
        try await slow.connection.setReading(false)
        let symbols = (0..<10).map { "S\($0)" }
        var published = 0
        // Back the queue up with keyed updates, then keep updating every symbol many times over. Ten updates of each
        // symbol per request: the socket buffers take megabytes before the server queues anything, and one request and
        // one metrics read per ten publications made a loaded machine overrun the time limit.
        let round = (0..<10).flatMap { _ in symbols }
        while try await server.metric("switchboard_conflated_total") ?? 0 < 100 {
            try await server.publishBatch(
                round.map { #"{"channel":"ticker:prices","key":"\#($0)","data":{"symbol":"\#($0)","pad":"\#(pad)"}}"# })
            published += round.count
            #expect(published < 100_000, "nothing was conflated")
            if published >= 100_000 { break }
        }
        try await server.publishBatch(symbols.map { #"{"channel":"ticker:prices","key":"\#($0)","data":{"symbol":"\#($0)","final":true}}"# })
        published += symbols.count
        try await slow.connection.setReading(true)

        var finals = Set<String>()
        var lastOffset = 0
        var received = 0
        var sawNotice = false
        while finals.count < symbols.count, let text = await slow.receiveText() {
            guard let push = object(text) else { continue }
            if push["push"] as? String == "conflated" { sawNotice = true }
            guard push["push"] as? String == "publication" else { continue }
            let offset = push["offset"] as! Int
            #expect(offset > lastOffset, "offsets must keep increasing")
            lastOffset = offset
            received += 1
            let data = push["data"] as! [String: Any]
            if data["final"] as? Bool == true { finals.insert(data["symbol"] as! String) }
        }
        #expect(finals.count == symbols.count)
        #expect(received < published)
        #expect(sawNotice)
        #expect(try await server.metricSum("switchboard_slow_consumer_disconnects_total") == 0)
        #expect(try await server.metric("switchboard_outbound_queue_peak_bytes") ?? .infinity <= 256 * 1024)
    }

    @Test func aMaxRateSubscriptionGetsFewerPushesButAlwaysTheLatestValue() async throws {
        let server = try await tickerServer()
        let ws = try await server.webSocket()
        _ = try await ws.command(#"{"id":1,"cmd":"subscribe","channel":"ticker:rate","maxRate":2}"#, id: 1)
        try await server.publishBatch((1...200).map { #"{"channel":"ticker:rate","key":"AAPL","data":\#($0)}"# })
        var values: [Int] = []
        var notices = 0
        while values.last != 200, let text = await ws.receiveText() {
            guard let push = object(text) else { continue }
            if push["push"] as? String == "conflated" { notices += 1 }
            if push["push"] as? String == "publication" { values.append(push["data"] as! Int) }
        }
        #expect(values.first == 1)
        #expect(values.last == 200)
        #expect(values.count < 200)
        #expect(values == values.sorted())
        #expect(notices >= 1)
    }

    @Test func aNamespaceMaxRateAppliesWithoutAskingAndTheSubscribeValueOverridesIt() async throws {
        let server = try await tickerServer(maxRate: 1)
        let ws = try await server.webSocket()
        _ = try await ws.command(#"{"id":1,"cmd":"subscribe","channel":"ticker:default"}"#, id: 1)
        try await server.publishBatch((1...50).map { #"{"channel":"ticker:default","key":"K","data":\#($0)}"# })
        var values: [Int] = []
        while values.last != 50, let push = await ws.nextPush("publication") { values.append(push["data"] as! Int) }
        #expect(values.count < 50)
        let bad = try await ws.command(#"{"id":2,"cmd":"subscribe","channel":"ticker:x","maxRate":0}"#, id: 2)
        #expect(errorCode(bad) == 107)
    }

    @Test func recoveryOnAConflatingChannelReturnsTheLatestValuePerKey() async throws {
        let server = try await tickerServer()
        let first = try await server.webSocket()
        let reply = try await first.command(#"{"id":1,"cmd":"subscribe","channel":"ticker:recover"}"#, id: 1)
        let epoch = (reply?["result"] as? [String: Any])?["epoch"] as! String
        await first.connection.close()
        try await server.publishBatch(
            [("A", 1), ("B", 2), ("A", 3), ("A", 4), ("B", 5)].map { #"{"channel":"ticker:recover","key":"\#($0.0)","data":\#($0.1)}"# }
                + [#"{"channel":"ticker:recover","data":"no key"}"#])
        let second = try await server.webSocket()
        let resumed = try await second.command(
            #"{"id":1,"cmd":"subscribe","channel":"ticker:recover","since":{"epoch":"\#(epoch)","offset":0}}"#, id: 1)
        #expect((resumed?["result"] as? [String: Any])?["recovered"] as? Bool == true)
        var sawNotice = false
        var offsets: [Int] = []
        while offsets.count < 3, let text = await second.receiveText() {
            guard let push = object(text) else { continue }
            if push["push"] as? String == "conflated" { sawNotice = true }
            if push["push"] as? String == "publication" { offsets.append(push["offset"] as! Int) }
        }
        #expect(sawNotice)
        #expect(offsets == [4, 5, 6])
    }

    @Test func keysAndPrioritiesAreValidated() async throws {
        let server = try await tickerServer()
        let ws = try await server.webSocket()
        let badKey = try await ws.command(#"{"id":1,"cmd":"publish","channel":"ticker:v","data":1,"key":""}"#, id: 1)
        #expect(errorCode(badKey) == 107)
        let badPriority = try await ws.command(#"{"id":2,"cmd":"publish","channel":"ticker:v","data":1,"priority":"urgent"}"#, id: 2)
        #expect(errorCode(badPriority) == 107)
        let api = try await server.http("POST", "/api/publish", body: #"{"channel":"ticker:v","data":1,"priority":7}"#)
        #expect(api.status == 400)
    }

    @Test func inABackedUpQueueAHighPriorityPublicationOvertakesOtherChannels() async throws {
        let server = try await tickerServer()
        let slow = try await server.webSocket()
        _ = try await slow.command(#"{"id":1,"cmd":"subscribe","channel":"bulk"}"#, id: 1)
        _ = try await slow.command(#"{"id":2,"cmd":"subscribe","channel":"alerts"}"#, id: 2)
        try await slow.connection.setReading(false)
        try await server.backUp("bulk")
        try await server.publishBatch((0..<20).map { _ in #"{"channel":"bulk","data":{"pad":"\#(pad)"}}"# })
        try await server.publishBatch([#"{"channel":"alerts","data":"fire","priority":"high"}"#])
        try await slow.connection.setReading(true)
        var bulkAfterAlert = 0
        var alertSeen = false
        var bulkTotal = 0
        let expectedBulk = Int(try await server.http("GET", "/api/history?channel=bulk").json?["offset"] as! Int)
        while bulkTotal < expectedBulk, let push = await slow.nextPush("publication") {
            if push["channel"] as? String == "alerts" {
                alertSeen = true
            } else {
                bulkTotal += 1
                if alertSeen { bulkAfterAlert += 1 }
            }
        }
        #expect(alertSeen)
        // The 20 bulk publications queued before the alert still came after it.
        #expect(bulkAfterAlert >= 20)
    }
}

/// Max rate and conflation are session features: SSE (commands over HTTP) and long-poll sessions get them too.
@Suite(.timeLimit(.minutes(1))) struct ConflationOverHTTPSessionsTests {
    @Test func aLongPollSubscriptionWithAMaxRateGetsTheLatestValue() async throws {
        let server = try await tickerServer()
        var poller = try await PollClient.open(server)
        try await poller.post(#"{"id":1,"cmd":"subscribe","channel":"ticker:poll","maxRate":2}"#)
        _ = try await poller.poll { $0["id"] as? Int == 1 }
        try await server.publishBatch((1...100).map { #"{"channel":"ticker:poll","key":"K","data":\#($0)}"# })
        var values: [Int] = []
        while values.last != 100 {
            values += try await poller.poll().filter { $0["push"] as? String == "publication" }.map { $0["data"] as! Int }
        }
        #expect(values.count < 100)
        #expect(values == values.sorted())
    }

    @Test func anSSESubscriptionWithAMaxRateGetsTheLatestValueAndTheSkipNotice() async throws {
        let server = try await tickerServer()
        let sse = try await server.sse(path: "/connection/sse")
        let address = try #require(await sse.sessionAddress())
        #expect(
            try await server.request(
                "POST", "/connection/\(address)/command", body: #"{"id":1,"cmd":"subscribe","channel":"ticker:sse","maxRate":2}"#
            ).status == 202)
        _ = await sse.reply(1)
        try await server.publishBatch((1...100).map { #"{"channel":"ticker:sse","key":"K","data":\#($0)}"# })
        var values: [Int] = []
        var notices = 0
        while values.last != 100, let event = await sse.next() {
            guard let push = object(event.data) else { continue }
            if push["push"] as? String == "conflated" { notices += 1 }
            if push["push"] as? String == "publication" { values.append(push["data"] as! Int) }
        }
        #expect(values.count < 100)
        #expect(notices >= 1)
    }

    @Test func recoveryOverLongPollReturnsTheLatestValuePerKey() async throws {
        let server = try await tickerServer()
        try await server.publishBatch([("A", 1), ("A", 2), ("B", 3)].map { #"{"channel":"ticker:lp","key":"\#($0.0)","data":\#($0.1)}"# })
        let epoch = try await server.http("GET", "/api/history?channel=ticker:lp").json?["epoch"] as! String
        var poller = try await PollClient.open(server)
        try await poller.post(#"{"id":1,"cmd":"subscribe","channel":"ticker:lp","since":{"epoch":"\#(epoch)","offset":0}}"#)
        var offsets: [Int] = []
        while offsets.count < 2 {
            offsets += try await poller.poll().filter { $0["push"] as? String == "publication" }.map { $0["offset"] as! Int }
        }
        #expect(offsets == [2, 3])
    }
}

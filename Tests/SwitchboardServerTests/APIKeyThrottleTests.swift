import Foundation
import SwitchboardClient
import SwitchboardCore
import Testing

/// Wrong API keys from one address are throttled per minute (`limits.api_key_failures_per_minute`).
@Suite(.timeLimit(.minutes(1))) struct APIKeyThrottleTests {
    /// 100 wrong keys in a row: the first ten are answered 401, the rest 429 with `retry-after`, and while shut out the
    /// right key from that address gets 429 too (a different answer would end the guessing). Streams carry on.
    @Test func wrongAPIKeysFromOneAddressAreThrottled() async throws {
        let server = try await TestServer.start { $0.limits.apiKeyFailuresPerMinute = 10 }
        let healthy = try await server.webSocket()
        #expect(try await healthy.command(#"{"id":1,"cmd":"subscribe","channel":"calm"}"#, id: 1)?["result"] != nil)
        var statuses: [Int] = []
        for attempt in 0..<100 {
            statuses.append(try await server.http("POST", "/api/publish", body: #"{"channel":"x","data":1}"#, apiKey: "guess-\(attempt)").status)
        }
        #expect(statuses.prefix(10).allSatisfy { $0 == 401 })
        #expect(statuses.dropFirst(10).allSatisfy { $0 == 429 })
        let shutOut = try await server.http("POST", "/api/publish", body: #"{"channel":"calm","data":1}"#)
        #expect(shutOut.status == 429)
        #expect(errorCode(shutOut.json) == 128)
        let retryAfter = try #require(shutOut.head.header("retry-after").flatMap(Int.init))
        #expect((1...60).contains(retryAfter))
        // The subscriber is served meanwhile: a client publish reaches it.
        let publisher = try await server.webSocket()
        #expect(try await publisher.command(#"{"id":1,"cmd":"publish","channel":"calm","data":7}"#, id: 1)?["result"] != nil)
        #expect(await healthy.nextPush("publication")?["data"] as? Int == 7)
        try await server.stop()
    }
}

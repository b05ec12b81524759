import NIOCore
import Testing

@testable import SwitchboardKit

/// Bounds of the SDK: call deadlines, the subscription buffer, and the publisher honouring `retry-after`.
@Suite(.timeLimit(.minutes(1))) struct SwitchboardKitLimitsTests {
    /// While no connection gets through, a publish and a history read with a timeout throw `timedOut` in about that
    /// time; the publish that was never sent is never published.
    @Test func aCallWithoutAReplyInTimeThrowsTimedOut() async throws {
        let server = try await TestServer.start()
        let proxy = try await LinkFault.start(targetPort: server.port)
        defer { proxy.stop() }
        try await proxy.setOffline(true)
        var configuration = SwitchboardKitClientTests.quickReconnects
        configuration.requestTimeout = .milliseconds(300)
        let client = try Switchboard.Client(url: "ws://127.0.0.1:\(proxy.port)", configuration: configuration)
        let started = ContinuousClock.now
        let publish = await #expect(throws: Switchboard.ClientError.self) { try await client.publish("news", json: "1") }
        #expect(publish?.code == .timedOut)
        #expect(ContinuousClock.now - started >= .milliseconds(300))
        let history = await #expect(throws: Switchboard.ClientError.self) {
            try await client.history("news", timeout: .milliseconds(100))
        }
        #expect(history?.code == .timedOut)
        try await proxy.setOffline(false)
        // The client is still usable: the next publish is the channel's first.
        #expect(try await client.publish("news", json: "2", timeout: .seconds(20)).offset == 1)
        await client.close()
        try await server.stop()
    }

    /// A consumer that stops taking events: the subscription buffers `maxBufferedEvents`, then ends with
    /// `slowConsumer` after them and unsubscribes on the server; resubscribing from the last position handled gets
    /// the rest exactly (4 recovered: they fit in the buffer).
    @Test func aSlowConsumerGetsItsBufferThenATypedErrorAndResumesExactly() async throws {
        let server = try await TestServer.start()
        var configuration = Switchboard.Client.Configuration()
        configuration.maxBufferedEvents = 8
        let client = try Switchboard.Client(url: "ws://127.0.0.1:\(server.port)", configuration: configuration)
        var events = client.subscribe("news").makeAsyncIterator()
        guard case .subscribed = try await events.next() else {
            Issue.record("expected the subscribe confirmation")
            return
        }
        let api = try Switchboard.API(baseURL: "http://127.0.0.1:\(server.port)", apiKey: TestServer.apiKey)
        _ = try await api.publish(batch: (1...12).map { Switchboard.API.Item(channel: "news", json: "\($0)") })
        try await waitUntil { await client.statistics().slowConsumers == 1 }
        try await server.waitForMetric("switchboard_subscriptions", toBe: 0)
        var handled: [Switchboard.Publication] = []
        do {
            while let event = try await events.next() {
                if case .publication(let publication) = event { handled.append(publication) }
            }
            Issue.record("the subscription ended without an error")
        } catch let error as Switchboard.ClientError {
            #expect(error.code == .slowConsumer)
        }
        #expect(handled.map(\.text) == (1...8).map(String.init))
        var rest: [String] = []
        for try await event in client.subscribe("news", since: handled.last?.position) {
            guard case .publication(let publication) = event else { continue }
            rest.append(publication.text)
            if rest.count == 4 { break }
        }
        #expect(rest == (9...12).map(String.init))
        await client.close()
        try await server.stop()
    }

    /// A 503 or 429 with `retry-after: 1`: the publisher waits that second (its own backoff is milliseconds) and
    /// then succeeds.
    @Test(arguments: [503, 429])
    func thePublisherWaitsTheRetryAfterTheHubAsksFor(status: Int) async throws {
        let server = try await TestServer.start()
        let proxy = try await HTTPFault.start(targetPort: server.port, refuse: 0, drop: 0, refuseFirst: 1, status: status, retryAfter: 1)
        defer { proxy.stop() }
        let api = try Switchboard.API(
            baseURL: "http://127.0.0.1:\(proxy.port)", apiKey: TestServer.apiKey, configuration: SwitchboardKitAPITests.quickRetries)
        let started = ContinuousClock.now
        #expect(try await api.publish("news", json: "1").offset == 1)
        #expect(ContinuousClock.now - started >= .milliseconds(950))
        let faults = try await proxy.stats()
        #expect(faults["refused"] == 1 && faults["forwarded"] == 1)
        try await server.stop()
    }

    /// A `retry-after` beyond `maxRetryAfter` is not waited for: the refusal is thrown at once, with the hub's value.
    @Test func aRetryAfterBeyondTheBoundIsThrownAtOnce() async throws {
        let server = try await TestServer.start()
        let proxy = try await HTTPFault.start(targetPort: server.port, refuse: 0, drop: 0, refuseFirst: 1, retryAfter: 3600)
        defer { proxy.stop() }
        let api = try Switchboard.API(
            baseURL: "http://127.0.0.1:\(proxy.port)", apiKey: TestServer.apiKey, configuration: SwitchboardKitAPITests.quickRetries)
        let started = ContinuousClock.now
        let refusal = await #expect(throws: Switchboard.ServerError.self) { try await api.publish("news", json: "1") }
        #expect(refusal?.httpStatus == 503 && refusal?.retryAfter == .seconds(3600) && refusal?.code == 136)
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(try await proxy.stats()["requests"] == 1)
        try await server.stop()
    }

    /// A link that swallows the upgrade request (the proxy stalls): the attempt is abandoned after `connectTimeout`
    /// and the client tries again, instead of waiting forever for a `101`.
    @Test func anUnansweredUpgradeIsAbandonedAfterTheConnectTimeout() async throws {
        let server = try await TestServer.start()
        let proxy = try await LinkFault.start(targetPort: server.port)
        defer { proxy.stop() }
        try await proxy.setStalled(true)
        var configuration = SwitchboardKitClientTests.quickReconnects
        configuration.connectTimeout = .milliseconds(300)
        configuration.transports = [.webSocket]
        let client = try Switchboard.Client(url: "ws://127.0.0.1:\(proxy.port)", configuration: configuration)
        var states = client.connectionStates().makeAsyncIterator()
        let started = ContinuousClock.now
        await client.connect()
        while let state = await states.next() {
            if case .reconnecting = state { break }
        }
        // Not the server's own handshake timeout (10 s), which ends the proxy's upstream connection otherwise.
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(250) && waited < .seconds(5))
        try await proxy.setStalled(false)
        #expect(try await client.publish("news", json: "1").offset == 1)
        await client.close()
        try await server.stop()
    }
}

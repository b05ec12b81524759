import NIOCore
import SwitchboardServer
import Testing

@testable import SwitchboardKit

/// The SDK over TLS (`wss://`, `https://`) against a server with a development certificate made for the test.
@Suite(.timeLimit(.minutes(1))) struct SwitchboardKitTLSTests {
    private func configuration(trusting pem: String, transports: [Switchboard.Client.Transport] = [.webSocket], hostname: String? = nil)
        throws -> Switchboard.Client.Configuration
    {
        var configuration = SwitchboardKitClientTests.quickReconnects
        configuration.transports = transports
        configuration.tls = try .trusting(pem: pem, serverHostname: hostname)
        return configuration
    }

    /// The next publication, past the `.subscribed` notes.
    private func nextPublication(_ events: inout Switchboard.Subscription.Iterator) async throws -> Switchboard.Publication? {
        while let event = try await events.next() {
            if case .publication(let publication) = event { return publication }
        }
        return nil
    }

    /// Over `wss://` (the certificate checked against the IP address 127.0.0.1, and against the name `localhost`) and
    /// over SSE on `https://`: subscribe, publish, receive.
    @Test(
        arguments: [
            (Switchboard.Client.Transport.webSocket, "wss", nil), (.webSocket, "wss", "localhost"), (.sse, "https", nil),
        ] as [(Switchboard.Client.Transport, String, String?)])
    func aClientSubscribesAndPublishesOverTLS(transport: Switchboard.Client.Transport, scheme: String, hostname: String?) async throws {
        let server = try await SecureTestServer.start()
        let client = try Switchboard.Client(
            url: "\(scheme)://127.0.0.1:\(server.port)",
            configuration: configuration(trusting: server.certificatePEM, transports: [transport], hostname: hostname))
        try await server.publish("news", "1")
        var events = client.subscribe("news").makeAsyncIterator()
        guard case .subscribed(let subscribed) = try await events.next() else {
            Issue.record("expected the subscribe confirmation")
            return
        }
        #expect(subscribed.position.offset == 1)
        let position = try await client.publish("news", json: #"{"over":"tls"}"#)
        #expect(position.offset == 2)
        let publication = try #require(try await nextPublication(&events))
        #expect(publication.position == position && publication.text == #"{"over":"tls"}"#)
        #expect(await client.statistics().transport == transport)
        await client.close()
        try await server.stop()
    }

    /// The backend publisher over `https://`: publish and read history.
    @Test func thePublisherPublishesOverHTTPS() async throws {
        let server = try await SecureTestServer.start()
        let api = try Switchboard.API(
            baseURL: "https://127.0.0.1:\(server.port)", apiKey: TestServer.apiKey,
            configuration: .init(tls: try .trusting(pem: server.certificatePEM)))
        let position = try await api.publish("news", json: "42", idempotencyKey: "tls-1")
        #expect(try await api.publish("news", json: "42", idempotencyKey: "tls-1") == position)
        #expect(try await api.history("news").publications.map(\.text) == ["42"])
        try await server.stop()
    }

    /// A client that trusts another certificate stops at once with `tlsFailed` (no retry loop, no hang); its state
    /// ends `.failed`. The publisher throws the same error without retrying.
    @Test(arguments: [Switchboard.Client.Transport.webSocket, .sse])
    func aCertificateFromAnotherAuthorityFailsWithATypedError(over transport: Switchboard.Client.Transport) async throws {
        let server = try await SecureTestServer.start()
        let stranger = try DevelopmentCertificate.generate().certificatePEM
        let client = try Switchboard.Client(
            url: "wss://127.0.0.1:\(server.port)", configuration: configuration(trusting: stranger, transports: [transport]))
        var states = client.connectionStates().makeAsyncIterator()
        await expectTLSFailure { for try await _ in client.subscribe("news") {} }
        await expectTLSFailure { try await client.publish("news", json: "1") }
        var last: Switchboard.ConnectionState?
        while let state = await states.next() { last = state }
        guard case .failed(let error) = last else {
            Issue.record("last state \(String(describing: last))")
            return
        }
        #expect(error.code == .tlsFailed)
        #expect(await client.statistics().connects == 0)
        let api = try Switchboard.API(
            baseURL: "https://127.0.0.1:\(server.port)", apiKey: TestServer.apiKey, configuration: .init(tls: try .trusting(pem: stranger)))
        await expectTLSFailure { try await api.publish("news", json: "1") }
        try await server.stop()
    }

    /// A trusted certificate that does not name the host connected to (an IP address it does not list, or another
    /// name given as `serverHostname`): `tlsFailed` too.
    @Test(arguments: [nil, "localhost"] as [String?])
    func aCertificateForAnotherHostFailsWithATypedError(hostname: String?) async throws {
        let server = try await SecureTestServer.start(hosts: ["switchboard.example"])
        let client = try Switchboard.Client(
            url: "wss://127.0.0.1:\(server.port)", configuration: configuration(trusting: server.certificatePEM, hostname: hostname))
        await expectTLSFailure { for try await _ in client.subscribe("news") {} }
        try await server.stop()
    }

    /// A PEM without a certificate is refused when the settings are made.
    @Test func aPEMWithoutACertificateIsRefused() {
        #expect(throws: Switchboard.ClientError.self) { try Switchboard.TLS.trusting(pem: "not a certificate") }
    }

    /// TLS against a plain-text server fails (the attempt does not complete) rather than hanging: the client retries
    /// like any failed connection, and the publisher gives up after its attempts.
    @Test func thePublisherGivesUpOnAServerWithoutTLS() async throws {
        let server = try await TestServer.start()
        let api = try Switchboard.API(
            baseURL: "https://127.0.0.1:\(server.port)", apiKey: TestServer.apiKey,
            configuration: .init(backoff: Switchboard.Backoff(initial: .milliseconds(5), maximum: .milliseconds(10)), maxAttempts: 2))
        await #expect(throws: (any Error).self) { try await api.publish("news", json: "1") }
        try await server.stop()
    }

    private func expectTLSFailure(_ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("no error")
        } catch let error as Switchboard.ClientError {
            #expect(error.code == .tlsFailed, "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}

/// TLS through the link-fault proxy (a TCP proxy: the TLS passes through it).
@Suite(.timeLimit(.minutes(1))) struct SwitchboardKitTLSLinkCutTests {
    /// Five link cuts on `wss://`, each after a publication arrived, while the next one is published over HTTPS: every
    /// publication arrives once, in order, without a reset, on a new TLS session each time.
    @Test func aSubscriptionOverWSSRecoversExactlyAcrossLinkCuts() async throws {
        let server = try await SecureTestServer.start()
        let proxy = try await LinkFault.start(targetPort: server.port)
        defer { proxy.stop() }
        var configuration = SwitchboardKitClientTests.quickReconnects
        configuration.tls = try .trusting(pem: server.certificatePEM)
        let client = try Switchboard.Client(url: "wss://127.0.0.1:\(proxy.port)", configuration: configuration)
        try await server.publish("news", "1")
        var events = client.subscribe("news", since: nil).makeAsyncIterator()
        _ = try await events.next()  // .subscribed, at offset 1
        var received: [String] = []
        var resets = 0
        for number in 2...7 {
            try await server.publish("news", "\(number)")
            while let event = try await events.next() {
                if case .reset = event { resets += 1 }
                guard case .publication(let publication) = event else { continue }
                received.append(publication.text)
                break
            }
            if number < 7 { try await proxy.cut() }
        }
        #expect(received == (2...7).map(String.init))
        #expect(resets == 0)
        let statistics = await client.statistics()
        #expect(statistics.connects == 6 && statistics.duplicatesDropped == 0)
        await client.close()
        try await server.stop()
    }
}

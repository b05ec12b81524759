import Foundation
import Logging
import NIOCore
import SwitchboardClient
import SwitchboardCore
import SwitchboardServer
import Testing

/// TLS on the server's one port: HTTPS and WSS over HTTP/1.1, SSE and the HTTP API over HTTP/2 (ALPN), and clients
/// that do not speak TLS at all.
@Suite(.timeLimit(.minutes(1))) struct TLSTests {
    @Test func httpsAPIPublishWorksOverHTTP1() async throws {
        let server = try await SecureTestServer.start()
        let response = try await server.https("POST", "/api/publish", body: #"{"channel":"t:h1","data":1}"#)
        #expect(response.status == 200)
        #expect(response.json?["offset"] as? Int == 1)
        try await server.stop()
    }

    @Test func alpnChoosesHTTP2AndTheAPIAnswersOnIt() async throws {
        let server = try await SecureTestServer.start()
        let client = try await server.http2()  // throws unless ALPN chose h2
        let published = try await client.request(
            "POST", path: "/api/publish", headers: server.apiHeaders, body: ByteBuffer(string: #"{"channel":"t:h2","data":"x"}"#))
        #expect(published.status == 200)
        #expect(published.json?["offset"] as? Int == 1)
        let health = try await client.request("GET", path: "/healthz")
        #expect(health.status == 200)
        await client.close()
        try await server.stop()
    }

    @Test func webSocketOverTLSReceivesAPublicationAndIsDrainedOnShutdown() async throws {
        let server = try await SecureTestServer.start()
        let ws = try await server.wss()
        let reply = try await ws.command(#"{"id":1,"cmd":"subscribe","channel":"t:ws"}"#, id: 1)
        #expect(reply?["result"] != nil)
        try await server.publish("t:ws", #""hello""#)
        let publication = await ws.nextPush("publication")
        #expect(publication?["data"] as? String == "hello")
        let stopping = Task { try await server.stop() }
        #expect(await ws.closeCode() == 4001)
        try await stopping.value
    }

    @Test func tokenIsCheckedBeforeTheUpgradeOverTLS() async throws {
        let server = try await SecureTestServer.start()
        let refusal = await #expect(throws: HTTPRefusal.self) { try await server.wss(headers: [("authorization", "Bearer not-a-jwt")]) }
        #expect(refusal?.status == 401)
        #expect(errorCode(object(refusal?.body)) == 123)
        try await server.stop()
    }

    @Test func manySSEStreamsShareOneHTTP2ConnectionAndReceivePublications() async throws {
        let server = try await SecureTestServer.start()
        let client = try await server.http2()
        var streams: [SSEClient] = []
        for index in 0..<5 {
            let stream = try await client.eventStream(path: "/connection/sse?channel=t:many\(index)")
            #expect(stream.head.header("content-type")?.hasPrefix("text/event-stream") == true)
            #expect(stream.head.header("connection") == nil)  // forbidden in HTTP/2
            _ = await stream.nextPush("subscribed")
            streams.append(stream)
        }
        for index in 0..<5 { try await server.publish("t:many\(index)", "\(index)") }
        for (index, stream) in streams.enumerated() {
            let publication = await stream.nextPush("publication")
            #expect(publication?["data"] as? Int == index)
            #expect(publication?["channel"] as? String == "t:many\(index)")
        }
        await client.close()
        try await server.stop()
    }

    @Test func sseOverHTTP2ResumesFromLastEventID() async throws {
        let server = try await SecureTestServer.start()
        let client = try await server.http2()
        let first = try await client.eventStream(path: "/connection/sse?channel=t:resume")
        _ = await first.nextPush("subscribed")
        try await server.publish("t:resume", "1")
        _ = await first.nextPush("publication")
        let lastEventID = try #require(first.lastEventID)
        await first.close()  // resets only this stream; the connection stays

        try await server.publish("t:resume", "2")
        try await server.publish("t:resume", "3")
        let second = try await client.eventStream(path: "/connection/sse?channel=t:resume", lastEventID: lastEventID)
        let start = await second.nextPush("subscribed")
        #expect((start?["recovered"] as? Bool) != false)
        #expect(await second.nextPush("publication")?["data"] as? Int == 2)
        #expect(await second.nextPush("publication")?["data"] as? Int == 3)
        await client.close()
        try await server.stop()
    }

    @Test func sseOverHTTP2SendsHeartbeats() async throws {
        let server = try await SecureTestServer.start { $0.heartbeat.interval = .milliseconds(20) }
        let client = try await server.http2()
        let stream = try await client.eventStream(path: "/raw/sse/t:beat")
        #expect(await stream.nextComment())
        #expect(await stream.nextComment())
        await client.close()
        try await server.stop()
    }

    @Test func gracefulShutdownEndsSSEStreamsOverHTTP2() async throws {
        let server = try await SecureTestServer.start()
        let client = try await server.http2()
        let stream = try await client.eventStream(path: "/connection/sse?channel=t:bye")
        _ = await stream.nextPush("subscribed")
        let stopping = Task { try await server.stop() }
        let advice = await stream.nextPush("disconnect")
        #expect(advice?["code"] as? Int == 4001)
        #expect(advice?["reconnect"] as? Bool == true)
        #expect(await stream.next() == nil)
        try await stopping.value
    }

    @Test func originAndTokenChecksApplyToEveryHTTP2Stream() async throws {
        let server = try await SecureTestServer.start()
        let client = try await server.http2()
        let foreign = await #expect(throws: HTTPRefusal.self) {
            try await client.eventStream(path: "/connection/sse?channel=t:o", headers: [("origin", "https://evil.example")])
        }
        #expect(foreign?.status == 403)
        #expect(errorCode(object(foreign?.body)) == 127)
        let badToken = await #expect(throws: HTTPRefusal.self) {
            try await client.eventStream(path: "/connection/sse?channel=t:o", headers: [("authorization", "Bearer not-a-jwt")])
        }
        #expect(badToken?.status == 401)
        // Refusals end their stream only: the connection keeps serving.
        let stream = try await client.eventStream(path: "/connection/sse?channel=t:o")
        #expect(await stream.nextPush("subscribed") != nil)
        await client.close()
        try await server.stop()
    }

    @Test func webSocketRequestOverHTTP2IsRefusedWith426() async throws {
        let server = try await SecureTestServer.start()
        let client = try await server.http2()
        let response = try await client.request("GET", path: "/connection/websocket")
        #expect(response.status == 426)
        // Not "send Upgrade": HTTP/2 has none; the reason names the way in.
        let reason = (response.json?["error"] as? [String: Any])?["reason"] as? String
        #expect(reason?.contains("open it on an HTTP/1.1 connection") == true, "\(String(describing: reason))")
        await client.close()
        try await server.stop()
    }

    @Test func plainHTTPToTheTLSPortIsClosedAndHealthyClientsKeepWorking() async throws {
        let server = try await SecureTestServer.start()
        let healthy = try await server.wss()
        _ = try await healthy.command(#"{"id":1,"cmd":"subscribe","channel":"t:calm"}"#, id: 1)

        let plain = try await ByteConnection.connect(host: "127.0.0.1", port: server.port)
        var reader = plain.reader()
        try await plain.write("GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n")
        let answer = await reader.readToEnd()
        #expect(!String(decoding: answer.readableBytesView, as: UTF8.self).contains("HTTP/1.1 200"))

        try await server.publish("t:calm", "1")
        #expect(await healthy.nextPush("publication")?["data"] as? Int == 1)
        #expect(try await server.https("GET", "/healthz").status == 200)
        let stopping = Task { try await server.stop() }
        #expect(await healthy.closeCode() == 4001)
        try await stopping.value
    }

    @Test func garbageBytesToTheTLSPortAreClosed() async throws {
        let server = try await SecureTestServer.start()
        let garbage = try await ByteConnection.connect(host: "127.0.0.1", port: server.port)
        var reader = garbage.reader()
        try await garbage.write((0..<512).map { UInt8(truncatingIfNeeded: $0 &* 37) })
        _ = await reader.readToEnd()
        #expect(reader.isAtEnd)
        #expect(try await server.https("GET", "/healthz").status == 200)
        try await server.stop()
    }

    @Test func aClientThatNeverStartsTLSIsClosedAfterTheHandshakeTimeout() async throws {
        let server = try await SecureTestServer.start { $0.limits.handshakeTimeout = .milliseconds(200) }
        // Read before connecting: the server's timer starts at its accept, which comes after this on any load (read
        // after connecting, a busy machine made the wait look 70 ms short).
        let started = ContinuousClock.now
        let silent = try await ByteConnection.connect(host: "127.0.0.1", port: server.port)
        var reader = silent.reader()
        _ = await reader.readToEnd()
        #expect(ContinuousClock.now - started >= .milliseconds(150))
        try await server.stop()
    }

    @Test func aClientThatDoesNotTrustTheCertificateFailsTheHandshake() async throws {
        let server = try await SecureTestServer.start()
        let stranger = try ClientTLS(trustingPEM: try DevelopmentCertificate.generate().certificatePEM)
        await #expect(throws: (any Error).self) {
            try await HTTPClient.request("GET", host: "127.0.0.1", port: server.port, path: "/healthz", tls: stranger)
        }
        #expect(try await server.https("GET", "/healthz").status == 200)
        try await server.stop()
    }

    @Test func aCertificateWithoutItsKeyIsAConfigurationError() async throws {
        let files = try SecureTestServer.writeCertificate()
        var configuration = HubConfiguration()
        configuration.port = 0
        configuration.tlsCertificateFile = files.certificate
        configuration.engineType = .memory
        let server = SwitchboardServer(configuration: configuration, apiKey: TestServer.apiKey, logger: .init(label: "test"))
        let error = await #expect(throws: ServerSetupError.self) { _ = try await server.makeService() }
        #expect(error?.key == "server.tls_key")
    }

    @Test func developmentCertificateRefusesBadInput() throws {
        #expect(throws: DevelopmentCertificateError.self) { try DevelopmentCertificate.generate(hosts: []) }
        #expect(throws: DevelopmentCertificateError.self) { try DevelopmentCertificate.generate(hosts: ["not a host"]) }
        #expect(throws: DevelopmentCertificateError.self) { try DevelopmentCertificate.generate(days: 0) }
    }
}

/// A ``TestServer`` serving TLS with a development certificate generated for the test, and clients that trust it.
struct SecureTestServer {
    let base: TestServer
    let clientTLS: ClientTLS
    /// The server's certificate, for clients that trust it as their root.
    let certificatePEM: String
    var port: Int { base.port }
    var apiHeaders: [(String, String)] { [("content-type", "application/json"), ("authorization", "apikey \(TestServer.apiKey)")] }

    /// Writes a fresh certificate and key to a temporary directory; returns their paths and the certificate.
    static func writeCertificate(hosts: [String] = DevelopmentCertificate.defaultHosts) throws -> (
        certificate: String, key: String, pem: String
    ) {
        let certificate = try DevelopmentCertificate.generate(hosts: hosts)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificatePath = directory.appendingPathComponent("cert.pem").path
        let keyPath = directory.appendingPathComponent("key.pem").path
        try Data(certificate.certificatePEM.utf8).write(to: URL(fileURLWithPath: certificatePath))
        try Data(certificate.privateKeyPEM.utf8).write(to: URL(fileURLWithPath: keyPath))
        return (certificatePath, keyPath, certificate.certificatePEM)
    }

    /// Starts through the configuration keys, as `serve --tls-cert/--tls-key` does.
    /// - Parameter hosts: the names and addresses the certificate carries.
    static func start(
        hosts: [String] = DevelopmentCertificate.defaultHosts, _ configure: @escaping (inout HubConfiguration) -> Void = { _ in }
    ) async throws -> SecureTestServer {
        let files = try writeCertificate(hosts: hosts)
        let base = try await TestServer.start {
            $0.tlsCertificateFile = files.certificate
            $0.tlsKeyFile = files.key
            configure(&$0)
        }
        return SecureTestServer(
            base: base, clientTLS: try ClientTLS(trustingPEM: files.pem, serverHostname: "localhost"), certificatePEM: files.pem)
    }

    func stop() async throws { try await base.stop() }

    func https(_ method: String, _ path: String, body: String? = nil) async throws -> HTTPClient.Response {
        try await HTTPClient.request(
            method, host: "127.0.0.1", port: port, path: path, headers: apiHeaders, body: body.map { ByteBuffer(string: $0) }, tls: clientTLS)
    }

    func http2() async throws -> HTTP2Client {
        try await HTTP2Client.connect(host: "127.0.0.1", port: port, tls: clientTLS)
    }

    func wss(headers: [(String, String)] = []) async throws -> WebSocketClient {
        try await WebSocketClient.connect(host: "127.0.0.1", port: port, path: "/connection/websocket", headers: headers, tls: clientTLS)
    }

    @discardableResult
    func publish(_ channel: String, _ data: String) async throws -> Int {
        let response = try await https("POST", "/api/publish", body: #"{"channel":"\#(channel)","data":\#(data)}"#)
        guard response.status == 200, let offset = response.json?["offset"] as? Int else {
            throw HTTPRefusal(status: response.status, body: response.bodyText)
        }
        return offset
    }
}

/// HTTP/2 request heads meet the same limits as HTTP/1's (security.md §2, "Request head"), stream by stream.
@Suite(.timeLimit(.minutes(1))) struct HTTP2HeaderLimitTests {
    @Test func aStreamWithTooManyHeaderLinesGets431AndTheConnectionKeepsServing() async throws {
        let server = try await SecureTestServer.start()
        let client = try await server.http2()
        let many = (0..<150).map { ("x-filler-\($0)", "v") }
        let refused = try await client.request("GET", path: "/healthz", headers: many)
        #expect(refused.status == 431)
        #expect(errorCode(refused.json) == 107)
        #expect(try await client.request("GET", path: "/healthz").status == 200)
        await client.close()
        try await server.stop()
    }

    @Test func aHeadOverTheByteLimitGets431AndOtherStreamsAndConnectionsKeepServing() async throws {
        // 4 KiB here: NIO's client sends a head in one HEADERS frame (at most 16 KiB), under the default 32 KiB.
        let server = try await SecureTestServer.start { $0.limits.maxHeaderBytes = 4096 }
        let client = try await server.http2()
        let huge = [("x-huge", String(repeating: "a", count: 8_000))]
        let refused = try await client.request("GET", path: "/healthz", headers: huge)
        #expect(refused.status == 431)
        #expect(errorCode(refused.json) == 107)
        // Just under the limit (the pseudo-headers and this field with their 32-byte overheads) is served.
        let fits = [("x-fits", String(repeating: "a", count: 3_800))]
        #expect(try await client.request("GET", path: "/healthz", headers: fits).status == 200)
        let other = try await server.http2()
        #expect(try await other.request("GET", path: "/healthz").status == 200)
        await client.close()
        await other.close()
        try await server.stop()
    }
}

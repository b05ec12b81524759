import Foundation
import NIOCore
import SwitchboardClient
import SwitchboardCore
import Testing

/// One raw HTTP connection: requests written exactly as given, responses read as the server sent them.
private final class RawExchange {
    let connection: ByteConnection
    private var reader: ByteReader

    private init(connection: ByteConnection) {
        self.connection = connection
        self.reader = connection.reader()
    }

    static func open(_ server: TestServer) async throws -> RawExchange {
        RawExchange(connection: try await ByteConnection.connect(host: "127.0.0.1", port: server.port))
    }

    /// Writes `request` (a failed write is fine: the server may answer and close before reading it all).
    func send(_ request: String) async {
        try? await connection.write(request)
    }

    /// The next response head alone (an upgrade's `101`).
    func head() async throws -> HTTPResponseHead {
        try #require(await HTTPResponseHead.read(from: &reader))
    }

    /// The next response: its head and its `content-length` body as text.
    func response() async throws -> (head: HTTPResponseHead, body: String) {
        let head = try await head()
        let body = await reader.read(exactly: head.contentLength ?? 0) ?? ByteBuffer()
        return (head, String(decoding: body.readableBytesView, as: UTF8.self))
    }

    /// Whether the server closed the connection after what was read: reading to the end returns nothing more (a
    /// connection kept open would make the test run into its time limit).
    func endsAfterResponse() async -> Bool {
        await reader.readToEnd().readableBytes == 0
    }
}

private func upgrade(_ path: String, host: String, origin: String? = nil) -> String {
    "GET \(path) HTTP/1.1\r\nhost: \(host)\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
        + "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n"
        + (origin.map { "origin: \($0)\r\n" } ?? "") + "\r\n"
}

/// Request bodies and heads a hostile client shapes: trickled bodies, oversized announcements, header floods.
@Suite(.timeLimit(.minutes(1))) struct RequestLimitTests {
    /// A body that stops arriving is answered 408 once `limits.body_timeout_ms` has passed since its head, and the
    /// connection closes; bytes still trickling in do not extend it.
    @Test func aBodyThatTricklesIsCutOffWith408() async throws {
        let server = try await TestServer.start { $0.limits.bodyTimeout = .milliseconds(300) }
        let exchange = try await RawExchange.open(server)
        await exchange.send(
            "POST /api/publish HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: apikey \(TestServer.apiKey)\r\n"
                + "content-type: application/json\r\ncontent-length: 100\r\n\r\n{\"chan")
        let connection = exchange.connection
        let trickle = Task {
            for _ in 0..<50 {
                guard (try? await connection.write("n")) != nil else { return }
                try? await Task.sleep(for: .milliseconds(20))  // pacing the attack, not synchronising the test
            }
        }
        let (head, body) = try await exchange.response()
        trickle.cancel()
        #expect(head.status == 408)
        #expect(errorCode(object(body)) == 107)
        #expect(body.contains("limits.body_timeout_ms"))
        #expect(await exchange.endsAfterResponse())
        #expect(try await server.http("GET", "/healthz", apiKey: nil).status == 200)
        try await server.stop()
    }

    /// A `Content-Length` over `limits.max_message_bytes` is answered 413 from the head alone, on a connection's first
    /// request and on a later keep-alive one; the body is never awaited (the body timeout is far beyond the test's).
    @Test func aContentLengthOverTheLimitIsRefusedWith413AtOnce() async throws {
        let server = try await TestServer.start { $0.limits.bodyTimeout = .seconds(600) }
        let announce =
            "POST /api/publish HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: apikey \(TestServer.apiKey)\r\n"
            + "content-type: application/json\r\ncontent-length: 10000000\r\n\r\n"
        let first = try await RawExchange.open(server)
        await first.send(announce)
        let (head, body) = try await first.response()
        #expect(head.status == 413)
        #expect(errorCode(object(body)) == 110)

        let keepAlive = try await RawExchange.open(server)
        await keepAlive.send("GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        #expect(try await keepAlive.response().head.status == 200)
        await keepAlive.send(announce)
        let second = try await keepAlive.response()
        #expect(second.head.status == 413)
        #expect(errorCode(object(second.body)) == 110)
        #expect(try await server.http("GET", "/healthz", apiKey: nil).status == 200)
        try await server.stop()
    }

    static let routes = [
        "GET /healthz", "POST /api/publish", "GET /connection/sse?channel=flood", "GET /raw/sse/flood", "GET /static/file.js",
    ]

    /// 20,000 header lines of 5 bytes (about 100 KB, under the byte limit of NIO's default) get 431 on every route,
    /// before routing; the server keeps serving.
    @Test(arguments: routes)
    func twentyThousandHeaderLinesGet431OnEveryRoute(route: String) async throws {
        let server = try await TestServer.start()
        let exchange = try await RawExchange.open(server)
        await exchange.send("\(route) HTTP/1.1\r\nhost: 127.0.0.1\r\n" + String(repeating: "a:b\r\n", count: 20_000) + "\r\n")
        let (head, body) = try await exchange.response()
        #expect(head.status == 431)
        #expect(errorCode(object(body)) == 107)
        #expect(body.contains("limits.max_header_count"))
        #expect(try await server.http("GET", "/healthz", apiKey: nil).status == 200)
        try await server.stop()
    }

    /// The same limit holds for a WebSocket upgrade and for a later request on a keep-alive connection.
    @Test func theHeadLimitHoldsForUpgradesAndKeepAliveRequests() async throws {
        let server = try await TestServer.start()
        let flood = String(repeating: "a:b\r\n", count: 20_000)
        let upgrading = try await RawExchange.open(server)
        await upgrading.send(upgrade("/connection/websocket", host: "127.0.0.1").dropLast(2) + flood + "\r\n")
        #expect(try await upgrading.response().head.status == 431)

        let keepAlive = try await RawExchange.open(server)
        await keepAlive.send("GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        #expect(try await keepAlive.response().head.status == 200)
        await keepAlive.send("GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n" + flood + "\r\n")
        #expect(try await keepAlive.response().head.status == 431)
        let healthy = try await server.webSocket()
        #expect(try await healthy.command(#"{"id":1,"cmd":"ping"}"#, id: 1)?["result"] != nil)
        try await server.stop()
    }

    /// An HTTP/1.0 request without `Connection: keep-alive` gets its response and then the connection closes; with
    /// it, the connection serves the next request.
    @Test func http10ClosesAfterTheResponseUnlessAskedToKeepAlive() async throws {
        let server = try await TestServer.start()
        let plain = try await RawExchange.open(server)
        await plain.send("GET /healthz HTTP/1.0\r\n\r\n")
        let (head, body) = try await plain.response()
        #expect(head.status == 200)
        #expect(body.contains("ok"))
        #expect(head.header("connection")?.lowercased() == "close")
        #expect(await plain.endsAfterResponse())

        let kept = try await RawExchange.open(server)
        await kept.send("GET /healthz HTTP/1.0\r\nconnection: keep-alive\r\n\r\n")
        #expect(try await kept.response().head.status == 200)
        await kept.send("GET /readyz HTTP/1.0\r\n\r\n")
        #expect(try await kept.response().head.status == 200)
        #expect(await kept.endsAfterResponse())
        try await server.stop()
    }
}

/// `Host` and `Origin` checked before any origin rule: RFC 9112's one-Host rule and DNS rebinding.
@Suite(.timeLimit(.minutes(1))) struct HostValidationTests {
    static let requests = [
        "GET /healthz HTTP/1.1\r\n\r\n",
        "GET /connection/sse?channel=a HTTP/1.1\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nhost: 127.0.0.1\r\n\r\n",
        "GET /raw/sse/a HTTP/1.1\r\nhost: 127.0.0.1\r\nhost: localhost\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\norigin: http://127.0.0.1\r\norigin: http://127.0.0.1\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nhost: 127.0.0.1/x\r\n\r\n",
    ]

    /// A missing Host on HTTP/1.1, two Hosts or two Origins (even identical ones), or a malformed Host get 400.
    @Test(arguments: requests)
    func missingOrRepeatedHostOrOriginGets400(request: String) async throws {
        let server = try await TestServer.start()
        let exchange = try await RawExchange.open(server)
        await exchange.send(request)
        let (head, body) = try await exchange.response()
        #expect(head.status == 400)
        #expect(errorCode(object(body)) == 107)
        #expect(await exchange.endsAfterResponse())
        #expect(try await server.http("GET", "/healthz", apiKey: nil).status == 200)
        try await server.stop()
    }

    /// The same-origin check never picks one of two Hosts: a page on a foreign origin that also names this server in a
    /// second Host is refused before the origin rule, on a WebSocket upgrade and on the API.
    @Test func theSameOriginCheckDoesNotUseTheFirstOfTwoHosts() async throws {
        let server = try await TestServer.start()
        for request in [
            upgrade("/connection/websocket", host: "evil.example\r\nhost: 127.0.0.1:\(server.port)", origin: "http://evil.example"),
            "GET /healthz HTTP/1.1\r\nhost: evil.example\r\nhost: 127.0.0.1\r\norigin: http://evil.example\r\n\r\n",
        ] {
            let exchange = try await RawExchange.open(server)
            await exchange.send(request)
            #expect(try await exchange.response().head.status == 400)
        }
        try await server.stop()
    }

    static let rebindingRequests = [
        upgrade("/connection/websocket", host: "rebind.evil.example", origin: "http://rebind.evil.example"),
        upgrade("/raw/ws/chat", host: "rebind.evil.example:8080", origin: "http://rebind.evil.example:8080"),
        "GET /raw/sse/chat HTTP/1.1\r\nhost: rebind.evil.example\r\norigin: http://rebind.evil.example\r\n\r\n",
        "POST /demo/token HTTP/1.1\r\nhost: rebind.evil.example\r\norigin: http://rebind.evil.example\r\n"
            + "content-type: application/json\r\ncontent-length: 15\r\n\r\n{\"sub\":\"alice\"}",
        "GET /api/history?channel=chat HTTP/1.1\r\nhost: rebind.evil.example\r\nauthorization: apikey \(TestServer.apiKey)\r\n\r\n",
    ]

    /// DNS rebinding in development: a page on `rebind.evil.example` whose name now resolves to this server sends its
    /// own name as Host and Origin. Every route answers 421 `139 host_not_allowed`: no upgrade, no demo token.
    @Test(arguments: rebindingRequests)
    func aRebindingPageIsRefusedOnEveryRoute(request: String) async throws {
        let server = try await TestServer.start { $0.demo = true }
        let exchange = try await RawExchange.open(server)
        await exchange.send(request)
        let (head, body) = try await exchange.response()
        #expect(head.status == 421)
        #expect(errorCode(object(body)) == 139)
        #expect(!body.contains("token\""))
        try await server.stop()
    }

    /// Localhost, 127.0.0.1 and [::1] with a port, as browsers send them, upgrade and get demo tokens.
    @Test(arguments: ["localhost", "127.0.0.1", "[::1]"])
    func localNamesWithAPortAreServed(name: String) async throws {
        let server = try await TestServer.start { $0.demo = true }
        let host = "\(name):\(server.port)"
        let upgrading = try await RawExchange.open(server)
        await upgrading.send(upgrade("/connection/websocket", host: host, origin: "http://\(host)"))
        #expect(try await upgrading.head().status == 101)
        let raw = try await RawExchange.open(server)
        await raw.send(upgrade("/raw/ws/chat", host: host, origin: "http://\(host)"))
        #expect(try await raw.head().status == 101)
        let demo = try await RawExchange.open(server)
        await demo.send(
            "POST /demo/token HTTP/1.1\r\nhost: \(host)\r\norigin: http://\(host)\r\n"
                + "content-type: application/json\r\ncontent-length: 15\r\n\r\n{\"sub\":\"alice\"}")
        let (head, body) = try await demo.response()
        #expect(head.status == 200)
        #expect(object(body)?["token"] is String)
        await upgrading.connection.close()
        await raw.connection.close()
        try await server.stop()
    }

    /// Production answers to `server.public_hosts` (and addresses, for health checks); other names get 421.
    @Test func productionAnswersToItsPublicHosts() async throws {
        let server = try await TestServer.start {
            $0.mode = .production
            $0.publicHosts = ["rt.example.com"]
        }
        for (host, status) in [("rt.example.com", 200), ("RT.example.com:443", 200), ("127.0.0.1:\(server.port)", 200), ("other.example", 421)] {
            let exchange = try await RawExchange.open(server)
            await exchange.send("GET /healthz HTTP/1.1\r\nhost: \(host)\r\n\r\n")
            #expect(try await exchange.response().head.status == status, "Host: \(host)")
            await exchange.connection.close()
        }
        try await server.stop()
    }
}

import NIOCore
import NIOPosix
import SwitchboardClient
import SwitchboardCore
import Testing

/// The RFC 6455 opening handshake over real sockets (issue 21, Q2): what a request to a WebSocket endpoint gets when
/// it does not ask for the upgrade, asks for another version or sends a malformed key (refused before any upgrade,
/// with the status, the headers that say what to send, and a JSON reason), the exact `101` a good request gets, and a
/// client that fails the connect when the server's `Sec-WebSocket-Accept` is not the proof of its key.
@Suite(.timeLimit(.minutes(1))) struct HandshakeTests {
    /// The key and accept value of RFC 6455 §1.3.
    static let sampleKey = "dGhlIHNhbXBsZSBub25jZQ=="
    static let sampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

    /// An upgrade request for `path` whose header lines are `lines` (each without its CRLF).
    private func request(_ lines: [String], path: String = "/connection/websocket") -> String {
        "GET \(path) HTTP/1.1\r\nhost: 127.0.0.1\r\n" + lines.map { $0 + "\r\n" }.joined() + "\r\n"
    }

    private func upgradeLines(version: String? = "13", key: String? = sampleKey) -> [String] {
        ["upgrade: websocket", "connection: Upgrade"] + (version.map { ["sec-websocket-version: \($0)"] } ?? [])
            + (key.map { ["sec-websocket-key: \($0)"] } ?? [])
    }

    /// The refusal's exact bytes: the status line, the JSON head, the extra headers, and the reason body.
    private func refusal(_ status: String, code: Int, name: String, reason: String, headers: [String]) -> String {
        let body = #"{"error":{"code":\#(code),"name":"\#(name)","reason":"\#(reason)"}}"#
        return "HTTP/1.1 \(status)\r\ncontent-type: application/json\r\ncontent-length: \(body.utf8.count)\r\n"
            + headers.map { $0 + "\r\n" }.joined() + "\r\n" + body
    }

    /// A plain GET to a WebSocket endpoint gets 426 whose `Upgrade` header names the protocol (RFC 9110 §15.5.22) and
    /// whose reason names both headers to send; the connection then closes.
    @Test(arguments: ["/connection/websocket", "/raw/ws/news"])
    func aRequestWithoutTheUpgradeHeadersGets426NamingThem(path: String) async throws {
        let server = try await TestServer.start()
        let answer = try await server.rawExchange(request(["sec-websocket-version: 13", "sec-websocket-key: \(Self.sampleKey)"], path: path))
        #expect(
            answer.text
                == refusal(
                    "426 Upgrade Required", code: 120, name: "upgrade_required",
                    reason: "this endpoint speaks WebSocket only: send Upgrade: websocket and Connection: Upgrade",
                    headers: ["connection: close, upgrade", "upgrade: websocket"]))
        try await server.stop()
    }

    /// One of the two headers is not enough: `Upgrade: websocket` without `Connection: Upgrade` (or with `Connection:
    /// keep-alive` only), or `Connection: Upgrade` with another protocol in `Upgrade`.
    @Test(arguments: [
        ["upgrade: websocket"],
        ["upgrade: websocket", "connection: keep-alive"],
        ["connection: Upgrade"],
        ["upgrade: h2c", "connection: Upgrade"],
    ])
    func halfAnUpgradeGets426(lines: [String]) async throws {
        let server = try await TestServer.start()
        let answer = try await server.rawExchange(request(lines + ["sec-websocket-version: 13", "sec-websocket-key: \(Self.sampleKey)"]))
        #expect(answer.head.status == 426)
        #expect(answer.head.header("upgrade") == "websocket")
        #expect(errorCode(object(answer.body)) == 120)
        try await server.stop()
    }

    /// Header names and tokens are case-insensitive and `Connection` may list other options next to `Upgrade`.
    @Test func upgradeTokensAreMatchedCaseInsensitivelyInLists() async throws {
        let server = try await TestServer.start()
        let answer = try await server.rawExchange(
            request([
                "Upgrade: WebSocket", "Connection: keep-alive, UPGRADE", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: \(Self.sampleKey)",
            ]),
            headOnly: true)
        #expect(answer.head.status == 101)
        try await server.stop()
    }

    /// Any version other than 13 (older drafts, a future one, none, garbage) gets 426 with `Sec-WebSocket-Version: 13`,
    /// the version this server speaks (RFC 6455 §4.4).
    @Test(arguments: ["8", "12", "14", "13, 8", "thirteen"])
    func aVersionOtherThan13Gets426WithVersion13(version: String) async throws {
        let server = try await TestServer.start()
        let answer = try await server.rawExchange(request(upgradeLines(version: version)))
        #expect(
            answer.text
                == refusal(
                    "426 Upgrade Required", code: 120, name: "upgrade_required",
                    reason: "only WebSocket version 13 is supported: send Sec-WebSocket-Version: 13",
                    headers: ["connection: close, upgrade", "upgrade: websocket", "sec-websocket-version: 13"]))
        try await server.stop()
    }

    @Test func aMissingVersionGets426WithVersion13() async throws {
        let server = try await TestServer.start()
        let answer = try await server.rawExchange(request(upgradeLines(version: nil)))
        #expect(answer.head.status == 426)
        #expect(answer.head.header("sec-websocket-version") == "13")
        try await server.stop()
    }

    /// A key that is not base64 of exactly 16 bytes (RFC 6455 §4.1): missing, short, long, not base64, or base64 whose
    /// padding bits are not zero (not what any encoder writes) gets 400 with the reason.
    @Test(
        arguments: [
            nil, "", "abc", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZXg=",
            "dGhlIHNhbXBsZSBub25jZXh4eA==", "dGhlIHNhbXBsZSBub25jZR==", "dGhlIHNhbXBsZSBub25j!Q==", "not a key at all, clearly",
        ] as [String?])
    func aMalformedKeyGets400(key: String?) async throws {
        let server = try await TestServer.start()
        let answer = try await server.rawExchange(request(upgradeLines(key: key)))
        #expect(
            answer.text
                == refusal(
                    "400 Bad Request", code: 107, name: "bad_request",
                    reason: "missing or malformed Sec-WebSocket-Key: send 16 random bytes in base64", headers: ["connection: close"]))
        try await server.stop()
    }

    /// The RFC's own example key gets the RFC's own accept value, in a `101` with nothing the client did not ask for.
    @Test func aGoodRequestGets101WithTheProofOfItsKey() async throws {
        let server = try await TestServer.start()
        let answer = try await server.rawExchange(request(upgradeLines()), headOnly: true)
        #expect(
            answer.text
                == "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: \(Self.sampleAccept)\r\n\r\n"
        )
        try await server.stop()
    }

    /// The Swift client checks the server's answer (RFC 6455 §4.1): a `101` whose `Sec-WebSocket-Accept` is not the
    /// proof of the client's key fails the connect with the reason, and the connection is closed.
    @Test func theClientFailsTheConnectWhenTheAcceptIsWrong() async throws {
        let fake = try await ScriptedServer.start(
            answer:
                "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: \(Self.sampleAccept)\r\n\r\n")
        await #expect {
            _ = try await WebSocketClient.connect(host: "127.0.0.1", port: fake.port, path: "/connection/websocket", subprotocols: [])
        } throws: { error in
            let refusal = error as? HTTPRefusal
            return refusal?.status == 101 && refusal?.body.hasPrefix("Sec-WebSocket-Accept is not the proof of the key sent") == true
        }
        #expect(await fake.clientClosed())
        try await fake.stop()
    }

    /// The other answers a client must refuse: no `Upgrade: websocket`, no `Connection: upgrade`, no accept, or a
    /// subprotocol the client did not offer.
    @Test func theClientRefusesA101ThatIsNotAWebSocketAnswer() {
        let key = Self.sampleKey
        let good: [(name: String, value: String)] = [
            ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", Self.sampleAccept),
        ]
        func problem(_ headers: [(name: String, value: String)], offered: [String] = []) -> String? {
            WebSocketHandshake.problem(in: HTTPResponseHead(status: 101, headers: headers), key: key, offeredSubprotocols: offered)
        }
        #expect(problem(good) == nil)
        #expect(problem([("upgrade", "WebSocket"), ("connection", "keep-alive, upgrade"), ("sec-websocket-accept", Self.sampleAccept)]) == nil)
        #expect(problem(good.filter { $0.name != "Upgrade" }) == "the 101 lacks Upgrade: websocket")
        #expect(problem(good.filter { $0.name != "Connection" }) == "the 101 lacks Connection: upgrade")
        #expect(problem(good.filter { $0.name != "Sec-WebSocket-Accept" })?.hasPrefix("Sec-WebSocket-Accept is not the proof") == true)
        #expect(problem(good + [("Sec-WebSocket-Protocol", "switchboard.v1.json")], offered: ["switchboard.v1.json"]) == nil)
        #expect(
            problem(good + [("Sec-WebSocket-Protocol", "chat")], offered: ["switchboard.v1.json"])
                == "the server chose subprotocol chat, which was not offered")
    }

    /// A real server's answer passes the client's checks (every end-to-end test connects through them too).
    @Test func theClientAcceptsTheServersProof() async throws {
        let server = try await TestServer.start()
        let client = try await server.webSocket()
        #expect(client.head.header("sec-websocket-accept") != nil)
        #expect(client.subprotocol == "switchboard.v1.json")
        await client.close()
        try await server.stop()
    }
}

/// A TCP server on a free loopback port that answers the first bytes of every connection with a fixed `answer` and
/// keeps the connection open: a server that says what the test needs it to say.
private final class ScriptedServer: Sendable {
    let port: Int
    private let channel: any Channel
    private let closes: AsyncStream<Void>

    private init(port: Int, channel: any Channel, closes: AsyncStream<Void>) {
        self.port = port
        self.channel = channel
        self.closes = closes
    }

    static func start(answer: String) async throws -> ScriptedServer {
        let (closes, closed) = AsyncStream<Void>.makeStream()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(AnswerOnce(answer: answer))
                    child.closeFuture.whenComplete { _ in closed.yield() }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return ScriptedServer(port: channel.localAddress?.port ?? 0, channel: channel, closes: closes)
    }

    /// Whether a connection to this server was closed (by the client: this server never closes one); waits for it.
    func clientClosed() async -> Bool {
        var iterator = closes.makeAsyncIterator()
        return await iterator.next() != nil
    }

    func stop() async throws {
        try await channel.close()
    }

    private final class AnswerOnce: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let answer: String
        var answered = false

        init(answer: String) { self.answer = answer }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !answered else { return }
            answered = true
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: answer)), promise: nil)
        }
    }
}

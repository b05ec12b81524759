import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import SwitchboardBroker
import SwitchboardClient
import SwitchboardCore
import SwitchboardServer
import Testing

/// A live Switchboard server on a free loopback port, for end-to-end tests over real sockets.
final class TestServer: Sendable {
    static let apiKey = "test-api-key-0123456789"
    let port: Int
    let server: SwitchboardServer
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    private init(port: Int, server: SwitchboardServer, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.server = server
        self.group = group
        self.task = task
    }

    static let hmacSecret = "test-hmac-secret-0123456789abcdef-0123456789"

    /// Starts a server with development defaults on port 0 and the test HMAC secret, adjusted by `configure`.
    /// - Parameter clock: Unix seconds for token expiry.
    /// - Parameter logs: when given, the server logs into it as JSON lines at `info` (otherwise warnings and worse
    ///   go to standard error).
    static func start(
        clock: ManualTokenClock? = nil, broker: (any Broker)? = nil, logs: LogCapture? = nil,
        _ configure: (inout HubConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        var configuration = HubConfiguration()
        configuration.port = 0
        configuration.auth.hmacSecret = hmacSecret
        // Tests flood on purpose (recovery, slow readers); the rate-limit tests set the limits they exercise.
        configuration.limits.commandsPerSecond = 0
        configuration.limits.publishesPerSecondPerUser = 0
        configuration.limits.publishesPerSecondPerChannel = 0
        // The durable engine's tests ask for it (with a data directory of their own).
        configuration.engineType = .memory
        configure(&configuration)
        var logger = Logger(label: "test-server")
        logger.logLevel = .warning
        if let logs {
            logger = Logger(label: "test-server") { label in JSONLogHandler(label: label, output: logs.output) }
            logger.logLevel = .info
        }
        let server = SwitchboardServer(
            configuration: configuration, apiKey: apiKey, broker: broker, logger: logger,
            tokenClock: { clock?.now ?? Int64(Date().timeIntervalSince1970) })
        let (ready, readyContinuation) = AsyncStream<Int>.makeStream()
        let service = try await server.makeService { port in readyContinuation.yield(port) }
        let group = ServiceGroup(configuration: .init(services: [service], logger: logger))
        let task = Task { try await group.run() }
        var iterator = ready.makeAsyncIterator()
        guard let port = await iterator.next() else { throw HTTPRefusal(status: 0, body: "server did not start") }
        return TestServer(port: port, server: server, group: group, task: task)
    }

    /// Graceful shutdown; returns when the server has stopped.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }

    // MARK: clients

    func webSocket(
        path: String = "/connection/websocket", subprotocols: [String] = ["switchboard.v1.json"], headers: [(String, String)] = []
    ) async throws -> WebSocketClient {
        try await WebSocketClient.connect(host: "127.0.0.1", port: port, path: path, subprotocols: subprotocols, headers: headers)
    }

    func sse(path: String, lastEventID: String? = nil, headers: [(String, String)] = []) async throws -> SSEClient {
        try await SSEClient.connect(host: "127.0.0.1", port: port, path: path, lastEventID: lastEventID, headers: headers)
    }

    /// A token signed with the test secret.
    static func token(
        _ subject: String, lifetime: Duration? = .seconds(3600), capabilities: Capabilities? = nil, channel: String? = nil,
        singleUseID: String? = nil,
        now: Date = Date(), secret: String = hmacSecret
    ) async throws -> String {
        try await TokenMinter(hmacSecret: secret).mint(
            subject: subject, lifetime: lifetime, capabilities: capabilities, channel: channel, singleUseID: singleUseID, now: now
        )
    }

    func http(_ method: String, _ path: String, body: String? = nil, apiKey: String? = TestServer.apiKey) async throws -> HTTPClient.Response {
        var headers: [(String, String)] = [("content-type", "application/json")]
        if let apiKey { headers.append(("authorization", "apikey \(apiKey)")) }
        return try await HTTPClient.request(
            method, host: "127.0.0.1", port: port, path: path, headers: headers, body: body.map { ByteBuffer(string: $0) })
    }

    /// What the server answered to `request`, sent as raw bytes on a new connection.
    struct RawAnswer {
        /// The answer exactly as received (head, blank line and body).
        var text: String
        var head: HTTPResponseHead
        var body: String
    }

    /// Sends `request` as it is and reads the answer to the end of the connection (a refusal closes it; one left open
    /// runs into the test's time limit), or with `headOnly` up to the end of the head (a `101` keeps it open).
    func rawExchange(_ request: String, headOnly: Bool = false) async throws -> RawAnswer {
        let connection = try await ByteConnection.connect(host: "127.0.0.1", port: port)
        var reader = connection.reader()
        try? await connection.write(request)  // the server may answer and close before reading it all
        let bytes =
            headOnly ? (await reader.read(until: "\r\n\r\n")).map { String(buffer: $0) + "\r\n\r\n" } : String(buffer: await reader.readToEnd())
        await connection.close()
        let text = try #require(bytes, "the connection ended before a response head")
        let parts = text.split(separator: "\r\n\r\n", maxSplits: 1, omittingEmptySubsequences: false)
        let head = try #require(HTTPResponseHead.parse(String(parts[0])), "not a response head: \(text.prefix(80))")
        return RawAnswer(text: text, head: head, body: parts.count == 2 ? String(parts[1]) : "")
    }

    /// Publishes through the HTTP API and returns the assigned offset.
    @discardableResult
    func publish(_ channel: String, _ data: String) async throws -> Int {
        let response = try await http("POST", "/api/publish", body: #"{"channel":"\#(channel)","data":\#(data)}"#)
        guard response.status == 200, let json = response.json, let offset = json["offset"] as? Int else {
            throw HTTPRefusal(status: response.status, body: response.bodyText)
        }
        return offset
    }

    /// Reads one sample from `/metrics`: the value of the first line starting with `series`.
    func metric(_ series: String) async throws -> Double? {
        let text = try await http("GET", "/metrics", apiKey: nil).bodyText
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    /// The sum of every series of the metric family `name` (all label values), or nil when it has none.
    func metricSum(_ name: String) async throws -> Double? {
        let text = try await http("GET", "/metrics", apiKey: nil).bodyText
        var sum: Double?
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") || line.hasPrefix(name + "{") {
            sum = (sum ?? 0) + (Double(line.split(separator: " ").last ?? "") ?? 0)
        }
        return sum
    }

    /// Polls `/metrics` until `series` reads `value` (an observable condition, not a guess at timing); fails after 10 s.
    func waitForMetric(_ series: String, toBe value: Double) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try await metric(series) != value {
            guard ContinuousClock.now < deadline else { throw HTTPRefusal(status: 0, body: "\(series) never reached \(value)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

extension HTTPClient.Response {
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] }
}

/// Parses a JSON object message.
func object(_ text: String?) -> [String: Any]? {
    guard let text else { return nil }
    return try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
}

extension WebSocketClient {
    /// Sends a command and returns the reply with the same id, skipping pushes.
    func command(_ json: String, id: Int) async throws -> [String: Any]? {
        try await send(text: json)
        while let text = await receiveText() {
            guard let message = object(text) else { continue }
            if message["id"] as? Int == id { return message }
        }
        return nil
    }

    /// Reads until the connection ends; the code of the server's close frame, if it sent one.
    func closeCode() async -> UInt16? {
        var closeCode: UInt16?
        while let message = await receive() {
            if case .close(let code, _) = message { closeCode = code }
        }
        return closeCode
    }

    /// The next message with `"push": kind`.
    func nextPush(_ kind: String) async -> [String: Any]? {
        while let text = await receiveText() {
            if let message = object(text), message["push"] as? String == kind { return message }
        }
        return nil
    }
}

extension SSEClient {
    /// The next event whose JSON data has `"push": kind`.
    func nextPush(_ kind: String) async -> [String: Any]? {
        while let event = await next() {
            if let message = object(event.data), message["push"] as? String == kind { return message }
        }
        return nil
    }
}

/// The JSON log lines a test server wrote.
final class LogCapture: Sendable {
    private let lines = NIOLockedValueBox<[String]>([])

    var output: JSONLogHandler.Output {
        .custom { [lines] bytes in lines.withLockedValue { $0.append(String(decoding: bytes, as: UTF8.self)) } }
    }

    /// Every line written so far, parsed.
    var entries: [[String: Any]] { lines.withLockedValue { $0 }.compactMap(object) }

    /// The lines whose `message` is `message`.
    func entries(_ message: String) -> [[String: Any]] { entries.filter { $0["message"] as? String == message } }
}

/// A hand-moved clock for token expiry (Unix seconds).
final class ManualTokenClock: Sendable {
    private let value: NIOLockedValueBox<Int64>
    init(_ start: Int64 = 1_900_000_000) { value = NIOLockedValueBox(start) }
    var now: Int64 { value.withLockedValue { $0 } }
    var date: Date { Date(timeIntervalSince1970: TimeInterval(now)) }
    func advance(by seconds: Int64) { value.withLockedValue { $0 += seconds } }
}

func errorCode(_ message: [String: Any]?) -> Int? {
    (message?["error"] as? [String: Any])?["code"] as? Int
}

import ArgumentParser
import Foundation
import SwitchboardBench

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load-test a hub: N subscribers, publications at a fixed rate, loss and latency measured.",
        discussion: """
            Opens the subscribers (WebSocket and/or SSE) at --connect-rate, publishes --rate publications per second \
            for --duration seconds through the HTTP API without waiting for replies, then reports delivered, lost, \
            duplicated and out-of-order publications, delivery latency percentiles and, with --server-pid, the \
            server's CPU per delivered message and memory per connection. --target nchan speaks Nchan's URLs \
            (/sub/CHANNEL, POST /pub/CHANNEL) for side-by-side runs. --mode echo times WebSocket clients' own \
            publications coming back; --mode reconnect-storm drops every subscriber at once, publishes --missed \
            publications per channel, reconnects them at once with `since` and times the recovery. --workers K \
            spreads the subscribers over K child processes (beyond one process's open-file limit). --deflate has the \
            WebSocket subscribers negotiate permessage-deflate and inflate compressed messages (the server compresses \
            only messages of at least websocket.compression_min_bytes, 256 by default: use --payload-bytes 512). \
            --publish-over websocket (fan-out, Switchboard only) publishes with `publish` commands on one WebSocket \
            connection instead of the HTTP API; start the server with SWITCHBOARD_LIMITS_COMMANDS_PER_SECOND=0 and \
            SWITCHBOARD_LIMITS_PUBLISHES_PER_SECOND_PER_USER=0 (both 100 per second by default) for higher rates. \
            Exits 1 when anything was lost or duplicated.
            """
    )

    @Option(name: .long, help: "Server base URL.") var url = "http://127.0.0.1:8080"
    @Option(name: .long, help: "Server kind: switchboard or nchan.") var target = "switchboard"
    @Option(name: .long, help: "API key (default: SWITCHBOARD_API_KEY).") var apiKey: String?
    @Option(name: [.customLong("ws")], help: "WebSocket subscribers.") var webSocketSubscribers = 100
    @Flag(
        name: .long,
        help: "WebSocket subscribers offer permessage-deflate, fail unless the server agrees, and inflate what it compresses.")
    var deflate = false
    @Option(name: [.customLong("sse")], help: "SSE subscribers.") var sseSubscribers = 0
    @Option(name: [.customLong("poll")], help: "Long-poll subscribers.") var pollSubscribers = 0
    @Option(name: .long, help: "fan-out, echo or reconnect-storm.") var mode = "fan-out"
    @Option(name: .long, help: "Reconnect storm: publications per channel made while the subscribers are away.") var missed = 100
    @Option(name: .long, help: "Worker processes holding the subscribers (each has its own open-file limit).") var workers = 1
    @Option(name: .long, help: .hidden) var workerOptions: String?
    @Option(name: .long, help: "Channels the subscribers are spread over.") var channels = 1
    @Option(name: .long, help: "New connections per second while ramping up.") var connectRate = 2_000
    @Option(name: .long, help: "Fan-out publisher: http (POST /api/publish) or websocket (publish commands).") var publishOver = "http"
    @Option(name: .long, help: "Publications per second (all channels together).") var rate = 100
    @Option(name: .long, help: "Seconds of publishing.") var duration = 10.0
    @Option(name: .long, help: "Bytes of each publication's data.") var payloadBytes = 128
    @Option(name: .long, help: "Seconds to wait for late deliveries after the last publication.") var drain = 2.0
    @Option(name: .long, help: "Idle seconds between connecting and publishing.") var settle = 1.0
    @Option(name: .long, help: "Bench event-loop threads.") var threads = 1
    @Option(name: .long, help: "Local source addresses, comma-separated (e.g. 127.0.0.2,127.0.0.3).") var sourceAddresses = ""
    @Option(name: .long, help: "Server process id: report its CPU per delivery and memory per connection.") var serverPid: Int32?
    @Flag(name: .long, help: "Print the report as JSON on standard output.") var json = false
    @Flag(name: .long, help: "No progress line on standard error.") var quiet = false

    func run() async throws {
        if let workerOptions {
            try await BenchWorker.run(encodedOptions: workerOptions)
            return
        }
        let server = try ServerURL(url)
        guard let kind = BenchOptions.Target(rawValue: target) else {
            throw ValidationError("--target must be switchboard or nchan")
        }
        var options = BenchOptions()
        options.host = server.host
        options.port = server.port
        options.target = kind
        guard let runMode = BenchOptions.Mode(rawValue: mode) else {
            throw ValidationError("--mode must be fan-out, echo or reconnect-storm")
        }
        options.mode = runMode
        guard let publisher = BenchOptions.PublishOver(rawValue: publishOver) else {
            throw ValidationError("--publish-over must be http or websocket")
        }
        options.publishOver = publisher
        options.pollSubscribers = pollSubscribers
        options.missedPublications = missed
        options.workers = workers
        options.apiKey = apiKey ?? ProcessInfo.processInfo.environment["SWITCHBOARD_API_KEY"] ?? ""
        // The WebSocket publisher connects as an (anonymous) client; everything else publishes with the API key.
        let usesAPIKey = kind == .switchboard && publisher == .http
        if usesAPIKey && options.apiKey.isEmpty {
            throw ValidationError("no API key: pass --api-key or set SWITCHBOARD_API_KEY")
        }
        options.webSocketSubscribers = webSocketSubscribers
        options.deflate = deflate
        options.sseSubscribers = sseSubscribers
        options.channels = channels
        options.connectRate = connectRate
        options.publishRate = rate
        options.duration = duration
        options.payloadBytes = payloadBytes
        options.drainSeconds = drain
        options.settleSeconds = settle
        options.threads = threads
        options.sourceAddresses = sourceAddresses.split(separator: ",").map(String.init)
        options.serverPID = serverPid
        options.progress = !quiet
        do { options = try options.validated() } catch let error as BenchOptionError { throw ValidationError(error.description) }
        let report = try await BenchRunner.run(options) { line in
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        }
        Output.line(json ? report.json : report.humanTable)
        let stormIncomplete = report.storm.map { $0.allRecoveredSeconds == nil } ?? false
        if report.lost > 0 || report.duplicated > 0 || report.established == 0 || stormIncomplete { throw ExitCode(1) }
    }
}

import Foundation
import NIOCore
import NIOPosix

/// Publishes on a fixed schedule (open loop): publication k is due at start + k / rate whether or not earlier ones
/// were answered, so a slow server shows up as latency and errors, not as a gentler load.
///
/// Over the HTTP API (`POST /api/publish`, pipelined) or, with `--publish-over websocket`, as `publish` commands on a
/// WebSocket connection; either way every answer is counted for the channel its publication went to.
///
/// Confined to its event loop; publication k goes to channel k % channels with that channel's next sequence number.
final class Publisher: @unchecked Sendable {
    /// One publisher connection and what it speaks.
    enum Link {
        case http(PublisherConnectionHandler)
        case webSocket(WebSocketPublisherHandler)

        var outstanding: Int {
            switch self {
            case .http(let handler): handler.outstanding
            case .webSocket(let handler): handler.outstanding
            }
        }
    }

    private let loop: any EventLoop
    private let options: BenchOptions
    private let over: BenchOptions.PublishOver
    private let protocolOf: TargetProtocol
    private let channelNames: [String]
    private let publicationCount: Int
    private let rate: Int
    private let warning: (String) -> Void
    private var connections: [(channel: any Channel, link: Link)] = []
    /// A replacement connection is being opened (one at a time, so publications stay on one connection).
    private var reopening = false
    private var nextConnection = 0
    private var sent = 0
    private var timer: RepeatedTask?
    private var startUptime: UInt64 = 0
    private(set) var accepted: [Int]
    private(set) var refused = 0
    private(set) var unanswered = 0
    private(set) var sendErrors = 0
    private(set) var refusalStatuses: [Int: Int] = [:]
    /// Refusals of WebSocket publish commands by error code.
    private(set) var refusalCodes: [Int: Int] = [:]
    private var warnedAboutRateLimit = false
    private var finished: EventLoopPromise<Void>?

    /// Publishes `publicationCount` publications at `rate` per second over `channelNames`, round-robin, `over` HTTP or
    /// WebSocket; `warning` gets a line about refusals the user can fix (the server's rate limits).
    init(
        loop: any EventLoop, options: BenchOptions, publicationCount: Int, rate: Int, protocolOf: TargetProtocol, channelNames: [String],
        over: BenchOptions.PublishOver = .http, warning: @escaping (String) -> Void = { Publisher.standardErrorWarning($0) }
    ) {
        self.loop = loop
        self.publicationCount = publicationCount
        self.rate = max(1, rate)
        self.options = options
        self.over = over
        self.protocolOf = protocolOf
        self.channelNames = channelNames
        self.warning = warning
        self.accepted = Array(repeating: 0, count: channelNames.count)
    }

    /// Writes `line` on standard error on a line of its own (the progress line is rewritten in place).
    static func standardErrorWarning(_ line: String) {
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line + "\n").utf8))
    }

    /// Opens the keep-alive connections the publications are spread over (one keeps the order meaningful: a server
    /// orders what arrives on one connection, not across connections).
    func connect(count: Int) -> EventLoopFuture<Void> {
        let futures = (0..<count).map { _ in openConnection() }
        return EventLoopFuture.andAllSucceed(futures, on: loop)
    }

    private func openConnection() -> EventLoopFuture<Void> {
        switch over {
        case .http: openHTTPConnection()
        case .webSocket: openWebSocketConnection()
        }
    }

    private func openHTTPConnection() -> EventLoopFuture<Void> {
        let handler = PublisherConnectionHandler(
            onResponse: { [unowned self] channelIndex, status in
                if (200..<300).contains(status) {
                    accepted[channelIndex] += 1
                } else {
                    refused += 1
                    refusalStatuses[status, default: 0] += 1
                    if status == 429 {
                        warnRateLimited("HTTP 429", advice: "start the server with SWITCHBOARD_LIMITS_API_REQUESTS_PER_SECOND=0")
                    }
                }
            },
            onClose: { [unowned self] lost in unanswered += lost.count })
        let box = NIOLoopBound(handler, eventLoop: loop)
        return ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(box.value) }
            }
            .connect(host: options.host, port: options.port)
            .map { [unowned self] channel in connections.append((channel, .http(box.value))) }
    }

    /// One WebSocket connection, usable once the server agreed to the upgrade.
    private func openWebSocketConnection() -> EventLoopFuture<Void> {
        let upgraded = loop.makePromise(of: Void.self)
        let handler = WebSocketPublisherHandler(
            request: protocolOf.webSocketRequest(channel: ""), upgraded: upgraded,
            onReply: { [unowned self] channelIndex, refusal in
                guard let refusal else {
                    accepted[channelIndex] += 1
                    return
                }
                refused += 1
                refusalCodes[refusal.code, default: 0] += 1
                if refusal.code == 128 {
                    warnRateLimited(
                        "error 128 (\(refusal.text.prefix(160)))",
                        advice:
                            "start the server with SWITCHBOARD_LIMITS_COMMANDS_PER_SECOND=0 and SWITCHBOARD_LIMITS_PUBLISHES_PER_SECOND_PER_USER=0 (and SWITCHBOARD_LIMITS_PUBLISHES_PER_SECOND_PER_CHANNEL=0 above 1,000/s per channel)"
                    )
                }
            },
            onClose: { [unowned self] lost in unanswered += lost })
        let box = NIOLoopBound(handler, eventLoop: loop)
        let connected = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(box.value) }
            }
            .connect(host: options.host, port: options.port)
        connected.whenFailure { upgraded.fail($0) }  // no connection: nothing else settles the upgrade
        return connected.flatMap { channel in upgraded.futureResult.map { channel } }
            .map { [unowned self] channel in connections.append((channel, .webSocket(box.value))) }
    }

    /// Says once per run that the server refused a publication for rate limiting, and how to lift the limit.
    private func warnRateLimited(_ what: String, advice: String) {
        guard !warnedAboutRateLimit else { return }
        warnedAboutRateLimit = true
        warning("warning: the server refused a publication for rate limiting: \(what); \(advice)")
    }

    /// Sends every publication on schedule; the future completes after the last one was written.
    func run() -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        finished = promise
        startUptime = NIODeadline.now().uptimeNanoseconds
        timer = loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { [unowned self] _ in
            sendDue()
        }
        return promise.futureResult
    }

    private func sendDue() {
        let elapsed = Double(NIODeadline.now().uptimeNanoseconds - startUptime) / 1e9
        let due = min(publicationCount, Int(elapsed * Double(rate)) + 1)
        while sent < due {
            send(index: sent)
            sent += 1
        }
        for connection in connections { connection.channel.flush() }
        if sent >= publicationCount {
            timer?.cancel()
            timer = nil
            finished?.succeed()
            finished = nil
        }
    }

    private func send(index: Int) {
        connections.removeAll { !$0.channel.isActive }
        guard !connections.isEmpty else {
            sendErrors += 1
            if !reopening {
                reopening = true
                openConnection().whenComplete { [unowned self] _ in reopening = false }
            }
            return
        }
        let channelIndex = index % channelNames.count
        let sequence = index / channelNames.count
        let data = PayloadStamp.data(sequence: sequence, timestamp: WallClock.nanoseconds(), size: options.payloadBytes)
        let connection = connections[nextConnection % connections.count]
        nextConnection += 1
        switch connection.link {
        case .http(let handler):
            let request = protocolOf.publishRequest(channel: channelNames[channelIndex], data: data)
            var text = "POST \(request.path) HTTP/1.1\r\nHost: \(options.host):\(options.port)\r\n"
            for (name, value) in request.headers { text += "\(name): \(value)\r\n" }
            text += "Content-Length: \(request.body.utf8.count)\r\n\r\n\(request.body)"
            handler.expectResponse(channelIndex: channelIndex)
            connection.channel.write(ByteBuffer(string: text), promise: nil)
        case .webSocket(let handler):
            // Command ids start at 1; id k + 1 is publication k.
            let command = protocolOf.publishCommand(id: index + 1, channel: channelNames[channelIndex], data: data)
            if !handler.publish(id: index + 1, channelIndex: channelIndex, command: command) { sendErrors += 1 }
        }
    }

    var publicationsSent: Int { sent }
    var outstanding: Int { connections.reduce(0) { $0 + $1.link.outstanding } }

    func close() {
        for connection in connections { connection.channel.close(promise: nil) }
    }
}

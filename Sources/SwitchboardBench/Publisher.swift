import NIOCore
import NIOPosix

/// Publishes on a fixed schedule (open loop): publication k is due at start + k / rate whether or not earlier ones
/// were answered, so a slow server shows up as latency and errors, not as a gentler load.
///
/// Confined to its event loop; publication k goes to channel k % channels with that channel's next sequence number.
final class Publisher: @unchecked Sendable {
    private let loop: any EventLoop
    private let options: BenchOptions
    private let protocolOf: TargetProtocol
    private let channelNames: [String]
    private let publicationCount: Int
    private let rate: Int
    private var connections: [(channel: any Channel, handler: PublisherConnectionHandler)] = []
    private var nextConnection = 0
    private var sent = 0
    private var timer: RepeatedTask?
    private var startUptime: UInt64 = 0
    private(set) var accepted: [Int]
    private(set) var refused = 0
    private(set) var unanswered = 0
    private(set) var sendErrors = 0
    private(set) var refusalStatuses: [Int: Int] = [:]
    private var finished: EventLoopPromise<Void>?

    /// Publishes `publicationCount` publications at `rate` per second over `channelNames`, round-robin.
    init(loop: any EventLoop, options: BenchOptions, publicationCount: Int, rate: Int, protocolOf: TargetProtocol, channelNames: [String]) {
        self.loop = loop
        self.publicationCount = publicationCount
        self.rate = max(1, rate)
        self.options = options
        self.protocolOf = protocolOf
        self.channelNames = channelNames
        self.accepted = Array(repeating: 0, count: channelNames.count)
    }

    /// Opens the keep-alive connections the publications are spread over (one keeps the order meaningful: a server
    /// orders what arrives on one connection, not across connections).
    func connect(count: Int) -> EventLoopFuture<Void> {
        let futures = (0..<count).map { _ in openConnection() }
        return EventLoopFuture.andAllSucceed(futures, on: loop)
    }

    private func openConnection() -> EventLoopFuture<Void> {
        let handler = PublisherConnectionHandler(
            onResponse: { [unowned self] channelIndex, status in
                if (200..<300).contains(status) {
                    accepted[channelIndex] += 1
                } else {
                    refused += 1
                    refusalStatuses[status, default: 0] += 1
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
            .map { [unowned self] channel in connections.append((channel, box.value)) }
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
            if connections.isEmpty { _ = openConnection() }
            return
        }
        let channelIndex = index % channelNames.count
        let sequence = index / channelNames.count
        let data = PayloadStamp.data(sequence: sequence, timestamp: WallClock.nanoseconds(), size: options.payloadBytes)
        let request = protocolOf.publishRequest(channel: channelNames[channelIndex], data: data)
        var text = "POST \(request.path) HTTP/1.1\r\nHost: \(options.host):\(options.port)\r\n"
        for (name, value) in request.headers { text += "\(name): \(value)\r\n" }
        text += "Content-Length: \(request.body.utf8.count)\r\n\r\n\(request.body)"
        let connection = connections[nextConnection % connections.count]
        nextConnection += 1
        connection.handler.expectResponse(channelIndex: channelIndex)
        connection.channel.write(ByteBuffer(string: text), promise: nil)
    }

    var publicationsSent: Int { sent }
    var outstanding: Int { connections.reduce(0) { $0 + $1.handler.outstanding } }

    func close() {
        for connection in connections { connection.channel.close(promise: nil) }
    }
}

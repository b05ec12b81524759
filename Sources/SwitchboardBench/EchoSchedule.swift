import NIOCore

/// The open-loop publish schedule of the echo clients on one event loop: publication m is due at start + m / rate
/// and goes to client m % clients, whether or not earlier ones came back. Confined to its loop, hence
/// `@unchecked Sendable`.
final class EchoSchedule: @unchecked Sendable {
    private let loop: any EventLoop
    private let clients: [WebSocketSubscriberHandler]
    private let count: Int
    private let rate: Double
    private let command: (WebSocketSubscriberHandler) -> String
    private var sent = 0
    private var startUptime: UInt64 = 0
    private var timer: RepeatedTask?

    init(
        loop: any EventLoop, clients: [WebSocketSubscriberHandler], count: Int, rate: Double,
        command: @escaping (WebSocketSubscriberHandler) -> String
    ) {
        self.loop = loop
        self.clients = clients
        self.count = count
        self.rate = max(rate, 0.001)
        self.command = command
    }

    /// Sends every publication on schedule; the future completes after the last one was written.
    func run() -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        guard count > 0 else {
            promise.succeed()
            return promise.futureResult
        }
        startUptime = NIODeadline.now().uptimeNanoseconds
        timer = loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { [self] _ in
            let elapsed = Double(NIODeadline.now().uptimeNanoseconds - startUptime) / 1e9
            let due = min(count, Int(elapsed * rate) + 1)
            var touched: [Int] = []
            while sent < due {
                let index = sent % clients.count
                clients[index].publish(command: command(clients[index]))
                touched.append(index)
                sent += 1
            }
            for index in touched { clients[index].flush() }
            if sent >= count {
                timer?.cancel()
                timer = nil
                promise.succeed()
            }
        }
        return promise.futureResult
    }
}

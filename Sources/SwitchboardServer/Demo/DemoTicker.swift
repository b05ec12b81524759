import Foundation
import NIOCore
import ServiceLifecycle
import SwitchboardCore

/// Demo mode's price feed: 1,000 updates per second over 500 symbols on `ticker:prices`, each publication keyed by
/// its symbol (conflation) — published through the same path as `POST /api/publish`, like any real publisher.
struct DemoTicker: Service {
    static let channel = try! ChannelName(validating: "ticker:prices")
    static let symbols = (1...500).map { String(format: "S%03d", $0) }
    static let updatesPerSecond = 1000
    /// Updates are sent in bursts every 10 ms: steady enough for the demo's rate meter, cheap in wake-ups.
    static let tick: Duration = .milliseconds(10)

    let publishing: PublishPath

    func run() async throws {
        try? await cancelWhenGracefulShutdown { try await publishForever() }
    }

    private func publishForever() async throws {
        var generator = SystemRandomNumberGenerator()
        var prices = Self.symbols.map { _ in Double.random(in: 20...500, using: &generator) }
        let perTick = Self.updatesPerSecond / 100
        var next = ContinuousClock.now
        while !Task.isCancelled {
            for _ in 0..<perTick {
                let index = Int.random(in: 0..<prices.count, using: &generator)
                prices[index] = max(1, prices[index] * (1 + Double.random(in: -0.002...0.002, using: &generator)))
                let symbol = Self.symbols[index]
                let price = (prices[index] * 100).rounded() / 100
                let millis = Int64(Date().timeIntervalSince1970 * 1000)
                let data = ByteBuffer(string: #"{"symbol":"\#(symbol)","price":\#(price),"ts":\#(millis)}"#)
                _ = await publishing.publish(PublishRequest(channel: Self.channel, data: data, key: symbol), client: nil)
            }
            next += Self.tick
            try await Task.sleep(until: next, clock: .continuous)
        }
    }
}

import ArgumentParser
import SwitchboardBench

/// The bare-SwiftNIO WebSocket server the benchmarks compare Switchboard's memory per connection with
/// (docs/benchmarks.md). Not a product feature: hidden from help.
struct BenchBaselineServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-baseline-server",
        abstract: "A bare SwiftNIO WebSocket server (benchmark baseline).",
        shouldDisplay: false
    )

    @Option(name: .long, help: "Address to listen on.") var host = "127.0.0.1"
    @Option(name: .long, help: "Port to listen on.") var port = 8090

    func run() async throws {
        try await BaselineServer.run(host: host, port: port)
    }
}

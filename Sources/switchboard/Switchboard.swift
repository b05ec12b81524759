import ArgumentParser
import Foundation

@main
struct Switchboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "A self-hostable real-time messaging hub: channels over WebSocket and Server-Sent Events, history with gapless recovery.",
        discussion: """
            Start the hub with `switchboard serve` (development defaults, no configuration file needed), publish with \
            `switchboard publish CHANNEL DATA` and watch a channel with `switchboard subscribe CHANNEL`.
            """,
        version: SwitchboardVersion.current,
        subcommands: [
            Serve.self, CheckConfig.self, Publish.self, Subscribe.self, Token.self, Cert.self, Bench.self, BenchBaselineServer.self, Yjs.self,
        ]
    )
}

enum SwitchboardVersion {
    static let current = "0.1.0"
}

/// Unbuffered lines on standard output, so a pipe sees each line at once.
enum Output {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

import ArgumentParser
import Foundation
import SwitchboardClient

struct Subscribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Watch channels over WebSocket, printing each publication as one JSON line.",
        discussion: """
            Each line is the server's publication push: {"push":"publication","channel":…,"epoch":…,"offset":…,"data":…}. \
            Subscribe results go to standard error. --since EPOCH:OFFSET recovers what was published after that position.
            """
    )

    @Argument(help: "One or more channel names.")
    var channels: [String]

    @Option(name: .long, help: "Server base URL.")
    var url = "http://127.0.0.1:8080"

    @Option(name: .long, help: "Recover from this position (EPOCH:OFFSET, as printed by publish); applies to every channel.")
    var since: String?

    @Option(name: .long, help: "Connection token (sent in the connect command), e.g. from `switchboard token`.")
    var token: String?

    @Option(name: .long, help: "Exit after this many publications (for scripts).")
    var count: Int?

    func run() async throws {
        let target = try ServerURL(url)
        var sinceJSON = ""
        if let since {
            guard let colon = since.lastIndex(of: ":"), let offset = Int(since[since.index(after: colon)...]) else {
                throw ValidationError("--since must be EPOCH:OFFSET")
            }
            sinceJSON = #","since":{"epoch":\#(jsonString(String(since[..<colon]))),"offset":\#(offset)}"#
        }
        let client: WebSocketClient
        do {
            client = try await WebSocketClient.connect(host: target.host, port: target.port, path: target.path + "/connection/websocket")
        } catch let refusal as HTTPRefusal {
            FileHandle.standardError.write(Data("switchboard: connection refused: \(refusal)\n".utf8))
            throw ExitCode(1)
        }
        if let token {
            try await client.send(text: #"{"id":1000000,"cmd":"connect","token":\#(jsonString(token))}"#)
        }
        for (index, channel) in channels.enumerated() {
            try await client.send(text: #"{"id":\#(index + 1),"cmd":"subscribe","channel":\#(jsonString(channel))\#(sinceJSON)}"#)
        }
        var printed = 0
        while let message = await client.receive() {
            switch message {
            case .text(let text):
                if text.hasPrefix(#"{"push":"publication""#) {
                    Output.line(text)
                    printed += 1
                    if let count, printed >= count {
                        await client.close()
                        return
                    }
                } else if !text.hasPrefix(#"{"push":"ping""#) {
                    FileHandle.standardError.write(Data((text + "\n").utf8))
                }
            case .binary:
                continue
            case .close(let code, let reason):
                FileHandle.standardError.write(Data("switchboard: closed by server: \(code.map(String.init) ?? "-") \(reason)\n".utf8))
                throw ExitCode(code == 1000 ? 0 : 1)
            }
        }
        FileHandle.standardError.write(Data("switchboard: connection lost\n".utf8))
        throw ExitCode(1)
    }
}

import ArgumentParser
import Foundation
import NIOCore
import SwitchboardClient

struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish JSON data to a channel through the HTTP API.",
        discussion: "DATA must be JSON; `-` reads it from standard input. Prints the publication's channel, epoch and offset."
    )

    @Argument(help: "Channel name, e.g. chat:lobby.")
    var channel: String

    @Argument(help: "JSON data, e.g. '{\"text\":\"hi\"}', or - for standard input.")
    var data: String

    @Option(name: .long, help: "Server base URL.")
    var url = "http://127.0.0.1:8080"

    @Option(name: .long, help: "API key (default: SWITCHBOARD_API_KEY).")
    var apiKey: String?

    func run() async throws {
        let target = try ServerURL(url)
        guard let key = apiKey ?? ProcessInfo.processInfo.environment["SWITCHBOARD_API_KEY"] else {
            throw ValidationError("no API key: pass --api-key or set SWITCHBOARD_API_KEY (the server prints its key at start)")
        }
        let text = data == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : data
        var body = ByteBuffer(string: #"{"channel":"#)
        body.writeString(jsonString(channel))
        body.writeString(#","data":"#)
        body.writeString(text)
        body.writeString("}")
        let response = try await HTTPClient.request(
            "POST", host: target.host, port: target.port, path: target.path + "/api/publish",
            headers: [("authorization", "apikey \(key)"), ("content-type", "application/json")], body: body
        )
        guard response.status == 200 else {
            FileHandle.standardError.write(Data("switchboard: publish refused (HTTP \(response.status)): \(response.bodyText)\n".utf8))
            throw ExitCode(1)
        }
        print(response.bodyText)
    }
}

func jsonString(_ text: String) -> String {
    let data = try! JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed])
    return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
}

/// `http://host:port/prefix` split for the raw clients.
struct ServerURL {
    var host: String
    var port: Int
    var path: String

    init(_ text: String) throws {
        guard let components = URLComponents(string: text), components.scheme == "http" || components.scheme == "ws",
            let host = components.host
        else {
            throw ValidationError("--url must look like http://127.0.0.1:8080")
        }
        self.host = host
        self.port = components.port ?? 80
        self.path = components.path.hasSuffix("/") ? String(components.path.dropLast()) : components.path
    }
}

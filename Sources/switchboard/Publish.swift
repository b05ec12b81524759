import ArgumentParser
import Foundation
import SwitchboardKit

struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish JSON data to a channel through the HTTP API.",
        discussion: """
            DATA must be JSON; `-` reads it from standard input. Prints the publication's channel, epoch and offset. \
            A request that gets no answer, or 429/500/502/503/504, is retried with the same idempotency key, so the \
            publication is stored once.
            """
    )

    @Argument(help: "Channel name, e.g. chat:lobby.")
    var channel: String

    @Argument(help: "JSON data, e.g. '{\"text\":\"hi\"}', or - for standard input.")
    var data: String

    @Option(name: .long, help: "Server base URL.")
    var url = "http://127.0.0.1:8080"

    @Option(name: .long, help: "API key (default: SWITCHBOARD_API_KEY).")
    var apiKey: String?

    @Option(name: .long, help: "Idempotency key (1–128 bytes; default: a random one, kept across retries).")
    var idempotencyKey: String?

    @Option(
        name: .long, help: "PEM file of the certificate(s) to trust on https:// (e.g. cert.pem from `switchboard cert`); default: the system's roots."
    )
    var ca: String?

    func run() async throws {
        guard let key = apiKey ?? ProcessInfo.processInfo.environment["SWITCHBOARD_API_KEY"] else {
            throw ValidationError("no API key: pass --api-key or set SWITCHBOARD_API_KEY (the server prints its key at start)")
        }
        let api: Kit.API
        do {
            var configuration = Kit.API.Configuration()
            if let ca { configuration.tls = try TrustedCertificates.load(ca) }
            api = try Kit.API(baseURL: url, apiKey: key, configuration: configuration)
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("--url must look like http://127.0.0.1:8080 (\(error))")
        }
        let text = data == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : data
        do {
            let position = try await api.publish(channel, json: text, idempotencyKey: idempotencyKey)
            print(#"{"channel":\#(jsonString(channel)),"epoch":\#(jsonString(position.epoch)),"offset":\#(position.offset)}"#)
        } catch let refusal as Kit.ServerError {
            Output.error("switchboard: publish refused (\(refusal))")
            throw ExitCode(1)
        } catch let error as Kit.ClientError {
            Output.error("switchboard: publish refused: \(error)")
            throw ExitCode(1)
        } catch {
            Output.error("switchboard: publish failed: \(error)")
            throw ExitCode(1)
        }
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

/// The SDK's namespace: this module's root command is also named `Switchboard`.
typealias Kit = SwitchboardKit.Switchboard

/// `--ca FILE` of the client subcommands.
enum TrustedCertificates {
    static func load(_ path: String) throws -> Kit.TLS {
        guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else { throw ValidationError("--ca: cannot read \(path)") }
        do {
            return try Kit.TLS.trusting(pem: pem)
        } catch {
            throw ValidationError("--ca: \(path): \(error)")
        }
    }
}

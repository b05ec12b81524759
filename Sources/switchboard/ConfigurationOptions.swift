import ArgumentParser
import Foundation
import SwitchboardCore
import SwitchboardServer

/// The configuration flags shared by every command that reads the hub's configuration (`serve`, `token`).
struct ConfigurationOptions: ParsableArguments {
    @Option(name: .long, help: "YAML configuration file.")
    var config: String?

    @Option(name: .long, help: "Address to listen on (server.host, default 127.0.0.1).")
    var host: String?

    @Option(name: .long, help: "Port to listen on; 0 picks a free one (server.port, default 8080).")
    var port: Int?

    @Option(name: .long, help: "Directory of static files served at / (server.web_root).")
    var webRoot: String?

    @Option(name: .long, help: "PEM certificate chain: serve https:// and wss:// (server.tls_cert; needs --tls-key).")
    var tlsCert: String?

    @Option(name: .long, help: "PEM private key of --tls-cert (server.tls_key).")
    var tlsKey: String?

    @Option(name: .long, help: "Engine: sqlite (durable, the default; data in engine.sqlite.path) or memory (engine.type).")
    var engine: String?

    @Flag(name: .long, help: "Production mode: no anonymous access or client publishing unless configured.")
    var production = false

    @Option(
        name: .customLong("set"), help: ArgumentHelp("Set any configuration key, e.g. --set limits.max_message_bytes=131072.", valueName: "key=value")
    )
    var assignments: [String] = []

    func resolve(environment: [String: String]) throws -> HubConfiguration {
        var layers: [ConfigurationLayer] = []
        if let path = config ?? environment[ConfigurationLayer.configPathVariable] {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError(source: path, key: "", reason: "cannot read the file")
            }
            layers.append(try ConfigurationFile.layer(fromYAML: text, source: path))
        }
        layers.append(try ConfigurationLayer.environment(environment.filter { !Self.harnessVariables.contains($0.key) }))
        var flags: [String] = []
        if production { flags.append("mode=production") }
        if let host { flags.append("server.host=\(host)") }
        if let port { flags.append("server.port=\(port)") }
        if let webRoot { flags.append("server.web_root=\(webRoot)") }
        if let tlsCert { flags.append("server.tls_cert=\(tlsCert)") }
        if let tlsKey { flags.append("server.tls_key=\(tlsKey)") }
        if let engine { flags.append("engine.type=\(engine)") }
        layers.append(try ConfigurationLayer.commandLine(flags + assignments, source: "command line"))
        return try ConfigurationResolver.resolve(layers)
    }

    /// `SWITCHBOARD_*` variables of the tooling around the server, never settings: test harnesses name the binary to run
    /// in `SWITCHBOARD_BIN` and pass their whole environment on to it.
    static let harnessVariables: Set<String> = ["SWITCHBOARD_BIN"]

    /// Resolves the layers, or prints `file: key: reason` and exits 2.
    func resolveOrExit() throws -> HubConfiguration {
        do {
            return try resolve(environment: ProcessInfo.processInfo.environment)
        } catch {
            Output.error("switchboard: configuration error: \(error)")
            throw ExitCode(2)
        }
    }
}

import ArgumentParser
import Foundation
import Logging
import SwitchboardCore
import SwitchboardServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the hub.",
        discussion: """
            With no configuration file the hub runs in development mode: anonymous access and client publishing are \
            allowed and an API key is generated and printed unless SWITCHBOARD_API_KEY is set. Settings come from, in \
            rising precedence: built-in defaults, the YAML file (--config or SWITCHBOARD_CONFIG), SWITCHBOARD_* \
            environment variables, then flags. docs/configuration.md lists every key.
            """
    )

    @Option(name: .long, help: "YAML configuration file.")
    var config: String?

    @Option(name: .long, help: "Address to listen on (server.host, default 127.0.0.1).")
    var host: String?

    @Option(name: .long, help: "Port to listen on; 0 picks a free one (server.port, default 8080).")
    var port: Int?

    @Option(name: .long, help: "Directory of static files served at / (server.web_root).")
    var webRoot: String?

    @Flag(name: .long, help: "Production mode: no anonymous access or client publishing unless configured.")
    var production = false

    @Option(
        name: .customLong("set"), help: ArgumentHelp("Set any configuration key, e.g. --set limits.max_message_bytes=131072.", valueName: "key=value")
    )
    var assignments: [String] = []

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        let configuration: HubConfiguration
        do {
            configuration = try resolveConfiguration(environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("switchboard: configuration error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let generatedKey = configuration.apiKey == nil
        let apiKey = configuration.apiKey ?? APIKeys.generate()
        var logger = Logger(label: "switchboard")
        logger.logLevel = logLevel
        let server = SwitchboardServer(configuration: configuration, apiKey: apiKey, logger: logger)
        do {
            try await run(server, configuration: configuration, apiKey: apiKey, generatedKey: generatedKey)
        } catch let error as ServerSetupError {
            FileHandle.standardError.write(Data("switchboard: configuration error: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    private func run(_ server: SwitchboardServer, configuration: HubConfiguration, apiKey: String, generatedKey: Bool) async throws {
        try await server.run { port in
            Output.line(Banner.text(configuration: configuration, port: port, apiKey: apiKey, generatedKey: generatedKey))
        }
    }

    private func resolveConfiguration(environment: [String: String]) throws -> HubConfiguration {
        var layers: [ConfigurationLayer] = []
        if let path = config ?? environment[ConfigurationLayer.configPathVariable] {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError(source: path, key: "", reason: "cannot read the file")
            }
            layers.append(try ConfigurationFile.layer(fromYAML: text, source: path))
        }
        layers.append(try ConfigurationLayer.environment(environment))
        var flags: [String] = []
        if production { flags.append("mode=production") }
        if let host { flags.append("server.host=\(host)") }
        if let port { flags.append("server.port=\(port)") }
        if let webRoot { flags.append("server.web_root=\(webRoot)") }
        layers.append(try ConfigurationLayer.commandLine(flags + assignments, source: "command line"))
        return try ConfigurationResolver.resolve(layers)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

enum APIKeys {
    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
        return String((0..<32).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}

enum Banner {
    static func text(configuration: HubConfiguration, port: Int, apiKey: String, generatedKey: Bool) -> String {
        let base = "http://\(configuration.host):\(port)"
        var lines = ["Switchboard \(SwitchboardVersion.current) listening on \(base)"]
        switch configuration.mode {
        case .development:
            lines.append("  mode: DEVELOPMENT (anonymous access and client publishing allowed; use --production or a config file for production)")
        case .production:
            lines.append("  mode: production")
        }
        lines.append("  WebSocket: ws://\(configuration.host):\(port)/connection/websocket   SSE: \(base)/connection/sse?channel=NAME")
        lines.append("  raw: ws://\(configuration.host):\(port)/raw/ws/NAME   \(base)/raw/sse/NAME")
        lines.append(generatedKey ? "  API key (generated; set SWITCHBOARD_API_KEY to keep one): \(apiKey)" : "  API key: from configuration")
        if let webRoot = configuration.webRoot { lines.append("  serving \(webRoot) at \(base)/") }
        return lines.joined(separator: "\n")
    }
}

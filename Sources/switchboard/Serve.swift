import ArgumentParser
import Foundation
import Logging
import SwitchboardBroker
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

    @OptionGroup var settings: ConfigurationOptions

    @Flag(name: .long, help: "Serve TLS with a self-signed certificate made in memory at start (development mode only).")
    var tlsSelfSigned = false

    @Flag(
        name: .long,
        help: "Demo mode for the demo apps (development only): POST /demo/token, a simulated ticker on ticker:prices, namespaces chat and ticker."
    )
    var demo = false

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error or critical (log.level, default info).")
    var logLevel: String?

    func run() async throws {
        FreedMemory.fixAllocatorThresholds(environment: ProcessInfo.processInfo.environment)
        var settings = settings
        if let logLevel { settings.assignments.insert("log.level=\(logLevel)", at: 0) }
        var configuration = try settings.resolveOrExit()
        if demo {
            guard configuration.mode == .development else { throw ValidationError("--demo is for development mode only") }
            DemoSetup.prepare(&configuration)
        }
        let selfSigned = try selfSignedCredentials(configuration)
        let generatedKey = configuration.apiKey == nil
        let apiKey = configuration.apiKey ?? APIKeys.generate()
        let logger = Self.bootstrapLogging(configuration)
        let server = SwitchboardServer(configuration: configuration, apiKey: apiKey, logger: logger, tls: selfSigned)
        do {
            try await run(server, configuration: configuration, apiKey: apiKey, generatedKey: generatedKey)
        } catch let error as ServerSetupError {
            FileHandle.standardError.write(Data("switchboard: configuration error: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    /// A throwaway certificate for `--tls-self-signed`; refused in production, where clients must be able to trust it.
    private func selfSignedCredentials(_ configuration: HubConfiguration) throws -> TLSCredentials? {
        guard tlsSelfSigned else { return nil }
        guard configuration.mode == .development else {
            throw ValidationError("--tls-self-signed is for development mode; in production use --tls-cert and --tls-key")
        }
        guard configuration.tlsCertificateFile == nil, configuration.tlsKeyFile == nil else {
            throw ValidationError("--tls-self-signed and --tls-cert/--tls-key exclude each other")
        }
        return try TLSCredentials(DevelopmentCertificate.generate(hosts: DevelopmentCertificate.defaultHosts + [configuration.host]))
    }

    private func run(_ server: SwitchboardServer, configuration: HubConfiguration, apiKey: String, generatedKey: Bool) async throws {
        try await server.run { port in
            Output.line(
                Banner.text(
                    configuration: configuration, port: port, apiKey: apiKey, generatedKey: generatedKey,
                    secure: tlsSelfSigned || configuration.tlsCertificateFile != nil))
        }
    }
}

extension Serve {
    /// Installs the log handler `log.format` names (once per process) and returns the server's logger at `log.level`.
    /// Text keeps swift-log's own handler on standard error.
    static func bootstrapLogging(_ configuration: HubConfiguration) -> Logger {
        if configuration.logFormat == .json {
            LoggingSystem.bootstrap { label in JSONLogHandler(label: label) }
        }
        var logger = Logger(label: "switchboard")
        logger.logLevel = Logger.Level(rawValue: configuration.logLevel.rawValue) ?? .info
        return logger
    }
}

enum APIKeys {
    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
        return String((0..<32).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}

enum Banner {
    /// The URL with its password replaced by `***`: the banner goes to logs.
    static func redactingPassword(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? url
    }

    static func text(configuration: HubConfiguration, port: Int, apiKey: String, generatedKey: Bool, secure: Bool = false) -> String {
        let base = "\(secure ? "https" : "http")://\(configuration.host):\(port)"
        let ws = secure ? "wss" : "ws"
        var lines = ["Switchboard \(SwitchboardVersion.current) listening on \(base)"]
        switch configuration.mode {
        case .development:
            lines.append("  mode: DEVELOPMENT (anonymous access and client publishing allowed; use --production or a config file for production)")
        case .production:
            lines.append("  mode: production")
        }
        lines.append("  WebSocket: \(ws)://\(configuration.host):\(port)/connection/websocket   SSE: \(base)/connection/sse?channel=NAME")
        lines.append("  raw: \(ws)://\(configuration.host):\(port)/raw/ws/NAME   \(base)/raw/sse/NAME")
        switch configuration.engineType {
        case .sqlite:
            let directory = URL(fileURLWithPath: configuration.sqlitePath).standardizedFileURL.path
            lines.append("  engine: sqlite, history kept in \(directory) (survives restarts; --engine memory keeps none)")
        case .memory:
            lines.append("  engine: memory (history is lost when the process stops)")
        case .postgres:
            lines.append("  engine: postgres, shared with every node on \(Self.redactingPassword(configuration.postgresURL))")
        }
        lines.append(generatedKey ? "  API key (generated; set SWITCHBOARD_API_KEY to keep one): \(apiKey)" : "  API key: from configuration")
        if let webRoot = configuration.webRoot { lines.append("  serving \(webRoot) at \(base)/") }
        if configuration.demo {
            lines.append("  demo mode: POST \(base)/demo/token mints tokens for any name; simulated ticker on ticker:prices")
        }
        return lines.joined(separator: "\n")
    }
}

/// What `serve --demo` adds to a development configuration, unless the configuration already says otherwise: the
/// demo apps' namespaces (`docs` holds the editor's Yjs rooms) and an HMAC secret (made up for this process) to sign demo tokens with.
enum DemoSetup {
    static func prepare(_ configuration: inout HubConfiguration) {
        configuration.demo = true
        if configuration.auth.hmacSecret == nil { configuration.auth.hmacSecret = APIKeys.generate() + APIKeys.generate() }
        if configuration.namespaces["chat"] == nil {
            var chat = configuration.channelDefaults
            chat.presence = true
            chat.receipts = true
            chat.historySize = 1000
            configuration.namespaces["chat"] = chat
        }
        if configuration.namespaces["ticker"] == nil {
            var ticker = configuration.channelDefaults
            ticker.conflation = true
            ticker.historySize = 1000
            configuration.namespaces["ticker"] = ticker
        }
        if configuration.namespaces["docs"] == nil {
            var docs = configuration.channelDefaults
            docs.yjs = true
            configuration.namespaces["docs"] = docs
        }
    }
}

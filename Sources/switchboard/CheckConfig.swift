import ArgumentParser
import Foundation
import SwitchboardCore
import SwitchboardServer

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a configuration file without starting the hub; print the effective configuration with secrets masked.",
        discussion: """
            Reads FILE and the SWITCHBOARD_* environment variables as `switchboard serve --config FILE` would, checks \
            every value (all errors, not only the first), the TLS files and token keys, and prints each key's effective \
            value and its source. Exit status 0 when the configuration would start, 2 with one `source: key: reason` \
            line per problem on standard error otherwise. The engine is not opened and the audit log is not created.
            """
    )

    @Argument(help: "YAML configuration file.")
    var file: String

    func run() async throws {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            Output.error("\(file): : cannot read the file")
            throw ExitCode(2)
        }
        var layers: [ConfigurationLayer] = []
        var errors: [ConfigurationError] = []
        do {
            layers.append(try ConfigurationFile.layer(fromYAML: text, source: file))
        } catch {
            errors.append(error)
        }
        let environment = ProcessInfo.processInfo.environment.filter {
            !ConfigurationOptions.harnessVariables.contains($0.key) && $0.key != ConfigurationLayer.configPathVariable
        }
        do {
            layers.append(try ConfigurationLayer.environment(environment))
        } catch {
            errors.append(error)
        }
        errors += ConfigurationResolver.check(layers)
        guard errors.isEmpty else { return try fail(errors.map(\.description)) }

        let configuration = try ConfigurationResolver.resolve(layers)
        let effective = ConfigurationResolver.effectiveValues(layers)
        let problems = await SwitchboardServer.setupProblems(configuration)
        guard problems.isEmpty else {
            // Named by the layer that set the key, as the resolver names its errors.
            let sources = Dictionary(effective.map { ($0.key, $0.source) }, uniquingKeysWith: { _, last in last })
            return try fail(problems.map { "\(sources[$0.key] ?? file): \($0.key): \($0.reason)" })
        }
        let width = effective.map(\.key.count).max() ?? 0
        for line in effective {
            let padding = String(repeating: " ", count: width - line.key.count)
            Output.line("\(line.key)\(padding) = \(line.value.isEmpty ? "(empty)" : line.value)   # \(line.source)")
        }
    }

    private func fail(_ lines: [String]) throws {
        for line in lines { Output.error(line) }
        throw ExitCode(2)
    }
}

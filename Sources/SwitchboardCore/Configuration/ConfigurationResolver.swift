/// One source of settings as dotted keys and string values, e.g. the flattened config file or the environment.
///
/// Why strings: every source writes text, so all parsing and all error messages live in one place, the resolver.
public struct ConfigurationLayer: Sendable {
    /// Named in errors: "switchboard.yaml", "environment", "command line".
    public var source: String
    /// Dotted keys and values as written; a key given twice keeps the later value.
    public var values: [(key: String, value: String)]
    /// Set by `environment(_:)`, so errors name the variable the user wrote rather than the dotted key.
    var envNameByKey: [String: String] = [:]

    public init(source: String, values: [(key: String, value: String)]) {
        self.source = source
        self.values = values
    }

    /// The config file's own path variable, read by the CLI before any layer exists.
    public static let configPathVariable = "SWITCHBOARD_CONFIG"

    /// Picks `SWITCHBOARD_*` variables out of an environment and maps them to dotted keys through the schema.
    ///
    /// An unknown `SWITCHBOARD_*` variable is an error, so a typo never silently falls back to a default.
    /// `SWITCHBOARD_CONFIG` (the file path, handled by the CLI) is skipped; a caller whose environment holds other
    /// variables that are not settings removes them first. Per-namespace options have no variables.
    public static func environment(_ env: [String: String]) throws(ConfigurationError) -> ConfigurationLayer {
        var layer = ConfigurationLayer(source: "environment", values: [])
        // Sorted, so the first error reported does not depend on dictionary order.
        for (name, value) in env.sorted(by: { $0.key < $1.key }) where name.hasPrefix("SWITCHBOARD_") && name != configPathVariable {
            guard let key = ConfigurationKey.keyByEnvName[name] else {
                throw ConfigurationError(source: layer.source, key: name, reason: unknownVariableReason(name))
            }
            layer.values.append((key: key, value: value))
            layer.envNameByKey[key] = name
        }
        return layer
    }

    /// Builds the command-line layer from `--set key=value` arguments (split at the first "=").
    public static func commandLine(_ assignments: [String], source: String = "command line") throws(ConfigurationError) -> ConfigurationLayer {
        var layer = ConfigurationLayer(source: source, values: [])
        for assignment in assignments {
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                throw ConfigurationError(source: source, key: assignment, reason: "expected key=value")
            }
            layer.values.append((key: String(assignment[..<equals]), value: String(assignment[assignment.index(after: equals)...])))
        }
        return layer
    }

    private static func unknownVariableReason(_ name: String) -> String {
        if name.hasPrefix("SWITCHBOARD_NAMESPACES_") {
            return "unknown environment variable; per-namespace options cannot be set from the environment, "
                + "use the config file or --set namespaces.<name>.<option>=value"
        }
        let suggestion = closestMatch(to: name, among: Array(ConfigurationKey.keyByEnvName.keys))
        return "unknown environment variable" + (suggestion.map { "; did you mean \($0)?" } ?? "")
    }
}

/// A refused setting: where it came from, which key, and why.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    public var source: String
    public var key: String
    public var reason: String

    public init(source: String, key: String, reason: String) {
        self.source = source
        self.key = key
        self.reason = reason
    }

    /// `switchboard.yaml: limits.max_message_bytes: expected a whole number of bytes, got "12k"`
    public var description: String { "\(source): \(key): \(reason)" }
}

/// Turns layers into a `HubConfiguration`: defaults < config file < environment < CLI flags, key by key.
///
/// Every value in every layer is checked, even one a later layer overrides, so a broken file is noticed
/// before the environment variable that hides it goes away.
public enum ConfigurationResolver {
    /// Applies `layers` in order (lowest precedence first) over the built-in defaults.
    public static func resolve(_ layers: [ConfigurationLayer]) throws(ConfigurationError) -> HubConfiguration {
        var draft = Draft()
        for layer in layers {
            for (key, value) in layer.values {
                do {
                    try draft.assign(value, to: key)
                } catch {
                    throw ConfigurationError(source: layer.source, key: layer.envNameByKey[key] ?? key, reason: error.reason)
                }
            }
        }
        return draft.finish()
    }

    /// Checks every value of every layer without stopping at the first refusal (`switchboard check-config`): all the
    /// errors in layer order, or none. `resolve` would report the first of them.
    public static func check(_ layers: [ConfigurationLayer]) -> [ConfigurationError] {
        var draft = Draft()
        var errors: [ConfigurationError] = []
        for layer in layers {
            for (key, value) in layer.values {
                do {
                    try draft.assign(value, to: key)
                } catch {
                    errors.append(ConfigurationError(source: layer.source, key: layer.envNameByKey[key] ?? key, reason: error.reason))
                }
            }
        }
        return errors
    }

    /// One line of the effective configuration: a key, its value as the winning layer wrote it (secrets masked), and
    /// where it came from ("default" when no layer set it).
    public struct EffectiveValue: Equatable, Sendable {
        public var key: String
        public var value: String
        public var source: String
    }

    /// The effective value of every top-level and `channel_defaults.` key, in schema order, then every namespace option
    /// a layer set. Values are shown as written; `api.key` and `auth.hmac_secret` are masked, and so is the password in
    /// `engine.postgres.url`. Defaults that depend on the mode are shown as their description.
    public static func effectiveValues(_ layers: [ConfigurationLayer]) -> [EffectiveValue] {
        var winners: [String: (value: String, source: String)] = [:]
        var namespaceKeys: [String] = []
        for layer in layers {
            for (key, value) in layer.values {
                if key.hasPrefix("namespaces."), winners[key] == nil { namespaceKeys.append(key) }
                winners[key] = (value, layer.source)
            }
        }
        var lines: [EffectiveValue] = []
        for entry in ConfigurationKey.schema where !entry.key.hasPrefix("namespaces.") {
            if let winner = winners[entry.key] {
                lines.append(EffectiveValue(key: entry.key, value: masked(entry.key, winner.value), source: winner.source))
            } else {
                lines.append(EffectiveValue(key: entry.key, value: entry.defaultLiteral ?? entry.defaultDescription, source: "default"))
            }
        }
        for key in namespaceKeys.sorted() {
            lines.append(EffectiveValue(key: key, value: winners[key]!.value, source: winners[key]!.source))
        }
        return lines
    }

    /// Keys whose values are secrets: shown as `***` when set.
    public static let secretKeys: Set<String> = ["api.key", "auth.hmac_secret"]

    static func masked(_ key: String, _ value: String) -> String {
        if secretKeys.contains(key) { return value.isEmpty ? "" : "***" }
        if key == "engine.postgres.url" { return maskingPassword(value) }
        return value
    }

    /// `postgres://user:secret@host/db` → `postgres://user:***@host/db`; a value without a password is returned as it is.
    static func maskingPassword(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].lastIndex(of: "@") else { return url }
        let credentials = url[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return url }
        return String(url[..<url.index(after: colon)]) + "***" + String(url[at...])
    }

    /// Settings seen so far; channel options stay as overrides until the mode is known.
    private struct Draft {
        var configuration = HubConfiguration()
        var channelDefaults = NamespaceOverrides()
        var namespaces: [String: NamespaceOverrides] = [:]

        mutating func assign(_ value: String, to key: String) throws(InvalidConfigurationValue) {
            if let setting = HubSetting.byKey[key] {
                try setting.assign(value, &configuration)
            } else if key.hasPrefix("channel_defaults.") {
                try namespaceSetting(key.dropFirst("channel_defaults.".count), prefix: "channel_defaults.").assign(value, &channelDefaults)
            } else if key.hasPrefix("namespaces.") {
                try assignNamespace(key.dropFirst("namespaces.".count), value: value, key: key)
            } else {
                throw unknownKey(key)
            }
        }

        /// `rest` is `<name>.<option>`, or just `<name>` with an empty value to declare a namespace with inherited options.
        private mutating func assignNamespace(_ rest: Substring, value: String, key: String) throws(InvalidConfigurationValue) {
            let name = rest.prefix { $0 != "." }
            // The same grammar channel names use, so every configured namespace can be addressed.
            guard ChannelName.isValidNamespace(Array(name.utf8)[...]) else {
                throw InvalidConfigurationValue(
                    reason: "invalid namespace name \(ConfigurationParse.quoted(String(name))): use 1 to 32 of a-z, 0-9, '_' and '-', "
                        + "starting with a letter or digit")
            }
            guard name.endIndex < rest.endIndex else {
                // A YAML `chat: {}` flattens to `namespaces.chat` with "" or "{}": declared, nothing overridden.
                guard ["", "{}"].contains(ConfigurationParse.trimmed(value)) else {
                    throw InvalidConfigurationValue(reason: "expected namespaces.\(name).<option>, e.g. namespaces.\(name).history_size")
                }
                if namespaces[String(name)] == nil { namespaces[String(name)] = NamespaceOverrides() }
                return
            }
            let setting = try namespaceSetting(rest[rest.index(after: name.endIndex)...], prefix: "namespaces.\(name).")
            try setting.assign(value, &namespaces[String(name), default: NamespaceOverrides()])
        }

        /// `prefix` is what precedes `option` in the key, so a suggestion reads as a whole key.
        private func namespaceSetting(_ option: Substring, prefix: String) throws(InvalidConfigurationValue) -> NamespaceSetting {
            guard let setting = NamespaceSetting.byOption[String(option)] else {
                let suggestion = closestMatch(to: String(option), among: NamespaceSetting.all.map(\.option))
                throw unknownKey(suggesting: suggestion.map { prefix + $0 })
            }
            return setting
        }

        private func unknownKey(_ key: String) -> InvalidConfigurationValue {
            let known = HubSetting.all.map(\.key) + NamespaceSetting.all.map { "channel_defaults." + $0.option }
            return unknownKey(suggesting: closestMatch(to: key, among: known))
        }

        private func unknownKey(suggesting suggestion: String?) -> InvalidConfigurationValue {
            InvalidConfigurationValue(reason: "unknown key" + (suggestion.map { "; did you mean \($0)?" } ?? ""))
        }

        /// Channel options are built last because their defaults depend on the final mode.
        func finish() -> HubConfiguration {
            var result = configuration
            result.channelDefaults = channelDefaults.applied(to: .defaults(for: result.mode))
            result.namespaces = namespaces.mapValues { $0.applied(to: result.channelDefaults) }
            return result
        }
    }
}

/// The candidate within a small edit distance of `word`, for "did you mean" hints on typos.
private func closestMatch(to word: String, among candidates: [String]) -> String? {
    let scored = candidates.map { (candidate: $0, distance: editDistance(Array(word.utf8), Array($0.utf8))) }
    guard let best = scored.min(by: { ($0.distance, $0.candidate) < ($1.distance, $1.candidate) }) else { return nil }
    return best.distance <= max(2, word.utf8.count / 8) ? best.candidate : nil
}

/// Levenshtein distance over bytes; the keys are ASCII.
private func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
    var previous = Array(0...b.count)
    for (i, byteA) in a.enumerated() {
        var current = [i + 1]
        for (j, byteB) in b.enumerated() {
            current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (byteA == byteB ? 0 : 1)))
        }
        previous = current
    }
    return previous[b.count]
}

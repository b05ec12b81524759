import Testing

@testable import SwitchboardCore

/// Layering, parsing and error reporting of the hub configuration (docs/configuration.md).
struct ConfigurationResolverTests {
    private func file(_ values: [(key: String, value: String)]) -> ConfigurationLayer {
        ConfigurationLayer(source: "switchboard.yaml", values: values)
    }

    private func resolveError(_ layers: [ConfigurationLayer]) -> ConfigurationError? {
        do {
            _ = try ConfigurationResolver.resolve(layers)
            return nil
        } catch {
            return error
        }
    }

    /// With no layers the result is the development defaults.
    @Test func noLayersGiveTheDevelopmentDefaults() throws {
        let configuration = try ConfigurationResolver.resolve([])
        #expect(configuration == HubConfiguration())
        #expect(configuration.mode == .development)
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 8080)
        #expect(configuration.webRoot == nil)
        #expect(configuration.apiKey == nil)
        #expect(configuration.limits.maxMessageBytes == 65_536)
        #expect(configuration.limits.writeBufferLowWaterBytes == 32_768)
        #expect(configuration.heartbeat.interval == .seconds(25))
        #expect(configuration.sseRetry == .seconds(2))
        #expect(configuration.channelDefaults == NamespaceOptions(historySize: 100, historyTTL: .seconds(300), allowClientPublish: true))
        #expect(configuration.namespaces.isEmpty)
    }

    /// Every default in the schema, written as a layer value, resolves to the built-in default: the docs match the code.
    @Test func schemaDefaultsMatchTheBuiltInDefaults() throws {
        let values = HubConfiguration.allKeys.compactMap { key in key.defaultLiteral.map { (key: key.key, value: $0) } }
        #expect(values.count == HubConfiguration.allKeys.count - 2 - NamespaceSetting.all.count)
        #expect(try ConfigurationResolver.resolve([file(values)]) == HubConfiguration())
    }

    /// Keys and environment names in the schema are unique and every environment name starts with SWITCHBOARD_.
    @Test func schemaNamesAreUnique() {
        let keys = HubConfiguration.allKeys.map(\.key)
        let envNames = HubConfiguration.allKeys.compactMap(\.envName)
        #expect(Set(keys).count == keys.count)
        #expect(Set(envNames).count == envNames.count)
        #expect(envNames.allSatisfy { $0.hasPrefix("SWITCHBOARD_") && $0 != ConfigurationLayer.configPathVariable })
    }

    /// File < environment < command line, decided key by key: a key set only in the file keeps its file value.
    @Test func laterLayersOverrideEarlierOnesKeyByKey() throws {
        let configuration = try ConfigurationResolver.resolve([
            file([("server.host", "0.0.0.0"), ("server.port", "9000"), ("sse.retry_ms", "500")]),
            ConfigurationLayer.environment(["SWITCHBOARD_PORT": "9001", "SWITCHBOARD_SSE_RETRY_MS": "700"]),
            ConfigurationLayer(source: "command line", values: [("sse.retry_ms", "900")]),
        ])
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.port == 9001)
        #expect(configuration.sseRetry == .milliseconds(900))
    }

    /// Within one layer a key given twice keeps the later value.
    @Test func laterValueWithinALayerWins() throws {
        let configuration = try ConfigurationResolver.resolve([file([("server.port", "1"), ("server.port", "2")])])
        #expect(configuration.port == 2)
    }

    /// An unknown key is refused, naming the source and the key, with a hint for a near miss.
    @Test func unknownKeyNamesSourceAndKey() {
        let error = resolveError([file([("limits.max_mesage_bytes", "10")])])
        #expect(error?.source == "switchboard.yaml")
        #expect(error?.key == "limits.max_mesage_bytes")
        #expect(error?.reason == "unknown key; did you mean limits.max_message_bytes?")
    }

    /// A size with a unit suffix is refused with source, key and a reason quoting the value.
    @Test func badIntegerNamesSourceKeyAndReason() {
        let error = resolveError([file([("limits.max_message_bytes", "12k")])])
        #expect(error?.description == #"switchboard.yaml: limits.max_message_bytes: expected a whole number of bytes, got "12k""#)
    }

    /// Negative numbers are refused with their own reason rather than as garbage.
    @Test func negativeNumberIsRefused() {
        let error = resolveError([file([("heartbeat.timeout_ms", "-5")])])
        #expect(error?.reason == #"must be at least 1, got "-5""#)
    }

    /// A value a later layer overrides is still checked, so a broken file does not hide behind the environment.
    @Test func overriddenBadValueIsStillRefused() throws {
        let error = resolveError([
            file([("server.port", "eighty")]),
            try ConfigurationLayer.environment(["SWITCHBOARD_PORT": "80"]),
        ])
        #expect(error?.source == "switchboard.yaml")
    }

    /// Booleans accept true/false, yes/no, on/off and 1/0 in any case.
    @Test(arguments: [("true", true), ("YES", true), ("On", true), ("1", true), ("false", false), ("no", false), ("OFF", false), ("0", false)])
    func booleanSpellings(spelling: String, expected: Bool) throws {
        let configuration = try ConfigurationResolver.resolve([file([("channel_defaults.allow_binary", spelling)])])
        #expect(configuration.channelDefaults.allowBinary == expected)
    }

    /// Anything else is not a boolean.
    @Test func garbageBooleanIsRefused() {
        let error = resolveError([file([("channel_defaults.allow_binary", "maybe")])])
        #expect(error?.reason == #"expected true/false, yes/no, on/off or 1/0, got "maybe""#)
    }

    /// The engine call deadline and the web-root link switch are read and checked like every other key.
    @Test func engineCallTimeoutAndWebRootLinksAreReadAndChecked() throws {
        let configuration = try ConfigurationResolver.resolve([
            file([("engine.call_timeout_ms", "250"), ("server.web_root_follow_symlinks", "yes")])
        ])
        #expect(configuration.engineCallTimeout == .milliseconds(250))
        #expect(configuration.webRootFollowsSymlinks)
        #expect(resolveError([file([("engine.call_timeout_ms", "0")])])?.reason == #"must be at least 1, got "0""#)
        #expect(resolveError([file([("engine.call_timeout_ms", "soon")])])?.key == "engine.call_timeout_ms")
        #expect(resolveError([file([("server.web_root_follow_symlinks", "maybe")])])?.key == "server.web_root_follow_symlinks")
    }

    /// `yjs.room_idle_ms`: a minute by default, read in milliseconds, 0 keeps idle rooms.
    @Test func yjsRoomIdleIsReadAndZeroKeepsRooms() throws {
        #expect(try ConfigurationResolver.resolve([]).yjsRoomIdle == .seconds(60))
        #expect(try ConfigurationResolver.resolve([file([("yjs.room_idle_ms", "1500")])]).yjsRoomIdle == .milliseconds(1500))
        #expect(try ConfigurationResolver.resolve([file([("yjs.room_idle_ms", "0")])]).yjsRoomIdle == nil)
        #expect(resolveError([file([("yjs.room_idle_ms", "-1")])])?.key == "yjs.room_idle_ms")
    }

    /// The engine keys: the durable engine by default, its path and sync level read; bad values refused with a reason.
    @Test func engineTypeAndSQLiteKeysAreReadAndChecked() throws {
        let defaults = try ConfigurationResolver.resolve([])
        #expect(defaults.engineType == .sqlite)
        #expect(defaults.sqlitePath == "./switchboard-data")
        #expect(defaults.sqliteSynchronous == .normal)
        let configuration = try ConfigurationResolver.resolve([
            file([("engine.type", "Memory"), ("engine.sqlite.path", "/var/lib/sb"), ("engine.sqlite.synchronous", "full")])
        ])
        #expect(configuration.engineType == .memory)
        #expect(configuration.sqlitePath == "/var/lib/sb")
        #expect(configuration.sqliteSynchronous == .full)
        #expect(resolveError([file([("engine.type", "redis")])])?.reason == #"expected "sqlite" or "memory" or "postgres", got "redis""#)
        #expect(resolveError([file([("engine.sqlite.synchronous", "off")])])?.reason == #"expected "normal" or "full", got "off""#)
        #expect(resolveError([file([("engine.sqlite.path", "  ")])])?.reason == "expected a directory path")
    }

    /// The PostgreSQL engine's keys: URL, shards (default 32) and poll interval (default 100 ms) read; bad values refused.
    @Test func postgresEngineKeysAreReadAndChecked() throws {
        let defaults = try ConfigurationResolver.resolve([])
        #expect(defaults.postgresURL == "")
        #expect(defaults.postgresShards == 32)
        #expect(defaults.postgresPollInterval == .milliseconds(100))
        let configuration = try ConfigurationResolver.resolve([
            file([
                ("engine.type", "postgres"), ("engine.postgres.url", "postgres://sb@db:5432/switchboard"), ("engine.postgres.shards", "8"),
                ("engine.postgres.poll_interval_ms", "250"),
            ])
        ])
        #expect(configuration.engineType == .postgres)
        #expect(configuration.postgresURL == "postgres://sb@db:5432/switchboard")
        #expect(configuration.postgresShards == 8)
        #expect(configuration.postgresPollInterval == .milliseconds(250))
        let fromEnvironment = try ConfigurationResolver.resolve([
            try ConfigurationLayer.environment(["SWITCHBOARD_ENGINE_POSTGRES_URL": "postgres://u@h/d"])
        ])
        #expect(fromEnvironment.postgresURL == "postgres://u@h/d")
        #expect(resolveError([file([("engine.postgres.shards", "0")])])?.reason == #"must be at least 1, got "0""#)
        #expect(resolveError([file([("engine.postgres.shards", "2000")])])?.reason == #"must be at most 1024, got "2000""#)
        #expect(resolveError([file([("engine.postgres.poll_interval_ms", "0")])])?.key == "engine.postgres.poll_interval_ms")
    }

    /// Production mode closes client publishing and anonymous access by default, for channel defaults and namespaces.
    @Test func productionFlipsModeDependentDefaults() throws {
        let configuration = try ConfigurationResolver.resolve([
            file([("namespaces.chat.history_size", "10")]),
            ConfigurationLayer(source: "command line", values: [("mode", "production")]),
        ])
        #expect(configuration.mode == .production)
        #expect(configuration.channelDefaults.allowClientPublish == false)
        #expect(configuration.channelDefaults.allowAnonymous == false)
        #expect(configuration.namespaces["chat"]?.allowClientPublish == false)
    }

    /// An explicit value wins over the mode-dependent default, wherever it appears relative to the mode.
    @Test func explicitValueWinsOverModeDefault() throws {
        let configuration = try ConfigurationResolver.resolve([
            file([("channel_defaults.allow_anonymous", "true")]),
            ConfigurationLayer(source: "command line", values: [("mode", "production")]),
        ])
        #expect(configuration.channelDefaults.allowAnonymous == true)
        #expect(configuration.channelDefaults.allowClientPublish == false)
    }

    /// A namespace inherits every option it does not set from channel_defaults.
    @Test func namespaceInheritsFromChannelDefaults() throws {
        let configuration = try ConfigurationResolver.resolve([
            file([
                ("channel_defaults.history_size", "50"), ("channel_defaults.history_ttl_seconds", "0"),
                ("namespaces.ticker.history_size", "1"), ("namespaces.ticker.allow_binary", "yes"),
            ])
        ])
        let ticker = try #require(configuration.namespaces["ticker"])
        #expect(ticker == NamespaceOptions(historySize: 1, historyTTL: nil, allowClientPublish: true, allowAnonymous: true, allowBinary: true))
        #expect(configuration.channelDefaults.historySize == 50)
    }

    /// `namespaces.<name>` with an empty value (a YAML `name: {}`) declares the namespace with inherited options.
    @Test func emptyNamespaceDeclaresItWithInheritedOptions() throws {
        let configuration = try ConfigurationResolver.resolve([file([("mode", "production"), ("namespaces.public", "{}")])])
        #expect(configuration.namespaces["public"] == configuration.channelDefaults)
    }

    /// A namespace name outside `[a-z0-9][a-z0-9_-]{0,31}` is refused.
    @Test(arguments: ["Chat", "_chat", "ch at", "", String(repeating: "a", count: 33)])
    func badNamespaceNameIsRefused(name: String) {
        let error = resolveError([file([("namespaces.\(name).history_size", "1")])])
        #expect(error?.key == "namespaces.\(name).history_size")
        #expect(error?.reason.hasPrefix("invalid namespace name") == true)
    }

    /// An unknown option under a valid namespace suggests the option under that namespace.
    @Test func unknownNamespaceOptionSuggestsTheOption() {
        let error = resolveError([file([("namespaces.chat.histroy_size", "1")])])
        #expect(error?.reason == "unknown key; did you mean namespaces.chat.history_size?")
    }

    /// The environment layer maps SWITCHBOARD_PORT to server.port and ignores other variables and SWITCHBOARD_CONFIG.
    @Test func environmentMapsPort() throws {
        let layer = try ConfigurationLayer.environment(["SWITCHBOARD_PORT": "9000", "SWITCHBOARD_CONFIG": "/etc/sb.yaml", "PATH": "/bin"])
        #expect(layer.source == "environment")
        #expect(layer.values.map(\.key) == ["server.port"])
        #expect(layer.values.map(\.value) == ["9000"])
    }

    /// A misspelt SWITCHBOARD_ variable is an error with a hint, not silently ignored.
    @Test func environmentRefusesTypo() {
        let expected = ConfigurationError(
            source: "environment", key: "SWITCHBOARD_PROTT", reason: "unknown environment variable; did you mean SWITCHBOARD_PORT?")
        #expect(throws: expected) {
            try ConfigurationLayer.environment(["SWITCHBOARD_PROTT": "9000"])
        }
    }

    /// Per-namespace options cannot come from the environment, and the reason says where to put them.
    @Test func environmentRefusesNamespaceVariables() {
        let error = #expect(throws: ConfigurationError.self) {
            try ConfigurationLayer.environment(["SWITCHBOARD_NAMESPACES_CHAT_HISTORY_SIZE": "5"])
        }
        #expect(error?.reason.contains("--set namespaces.<name>.<option>=value") == true)
    }

    /// A bad value from the environment is reported under the variable's name, which is what the user wrote.
    @Test func environmentErrorsNameTheVariable() throws {
        let error = resolveError([try ConfigurationLayer.environment(["SWITCHBOARD_CHANNEL_DEFAULTS_HISTORY_SIZE": "lots"])])
        #expect(error?.description == #"environment: SWITCHBOARD_CHANNEL_DEFAULTS_HISTORY_SIZE: expected a whole number, got "lots""#)
    }

    /// Ports above 65535 are refused.
    @Test func portOutOfRangeIsRefused() {
        let error = resolveError([file([("server.port", "65536")])])
        #expect(error?.reason == #"expected a port number from 0 to 65535, got "65536""#)
    }

    /// Port 0 is allowed: it asks the system for a free port.
    @Test func portZeroIsAllowed() throws {
        #expect(try ConfigurationResolver.resolve([file([("server.port", "0")])]).port == 0)
    }

    /// A short API key is refused without echoing the secret; an empty one means "generate at start".
    @Test func shortAPIKeyIsRefusedWithoutEchoingIt() throws {
        let error = resolveError([file([("api.key", "hunter2")])])
        #expect(error?.reason == "must be at least 16 characters long, got 7")
        #expect(try ConfigurationResolver.resolve([file([("api.key", "")])]).apiKey == nil)
    }

    /// `--set key=value` arguments become a command-line layer, split at the first "=".
    @Test func commandLineAssignmentsSplitAtFirstEquals() throws {
        let layer = try ConfigurationLayer.commandLine(["api.key=abc=def", "server.web_root="])
        #expect(layer.values.map(\.key) == ["api.key", "server.web_root"])
        #expect(layer.values.map(\.value) == ["abc=def", ""])
        #expect(throws: ConfigurationError.self) { try ConfigurationLayer.commandLine(["server.port"]) }
    }

    /// Development serves an unconfigured namespace with channel defaults; production refuses it.
    @Test func unconfiguredNamespaceOnlyWorksInDevelopment() {
        var configuration = HubConfiguration()
        configuration.namespaces["chat"] = NamespaceOptions(historySize: 5)
        #expect(configuration.options(forNamespace: "chat")?.historySize == 5)
        #expect(configuration.options(forNamespace: "other") == configuration.channelDefaults)
        #expect(configuration.options(forNamespace: nil) == configuration.channelDefaults)
        configuration.mode = .production
        #expect(configuration.options(forNamespace: "other") == nil)
        #expect(configuration.options(forNamespace: nil) == configuration.channelDefaults)
    }
}

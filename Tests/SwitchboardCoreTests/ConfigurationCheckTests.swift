import Testing

@testable import SwitchboardCore

/// What `switchboard check-config` reports: every error at once, and the effective values with secrets masked.
struct ConfigurationCheckTests {
    private func file(_ values: [(key: String, value: String)]) -> ConfigurationLayer {
        ConfigurationLayer(source: "switchboard.yaml", values: values)
    }

    /// Every refused value is reported in layer order, where `resolve` stops at the first.
    @Test func checkReportsEveryErrorInLayerOrder() throws {
        let errors = ConfigurationResolver.check([
            file([("limits.max_message_bytes", "lots"), ("server.port", "80"), ("log.format", "xml")]),
            try ConfigurationLayer.environment(["SWITCHBOARD_LOG_LEVEL": "loud"]),
        ])
        #expect(errors.map(\.source) == ["switchboard.yaml", "switchboard.yaml", "environment"])
        #expect(errors.map(\.key) == ["limits.max_message_bytes", "log.format", "SWITCHBOARD_LOG_LEVEL"])
        #expect(errors[1].reason == #"expected "text" or "json", got "xml""#)
    }

    /// A valid configuration has no errors.
    @Test func checkOfAValidConfigurationIsEmpty() {
        #expect(ConfigurationResolver.check([file([("log.format", "json"), ("log.level", "notice")])]).isEmpty)
    }

    /// Each key shows the value of the last layer that set it, or its default; secrets show as ***.
    @Test func effectiveValuesNameTheirSourceAndMaskSecrets() throws {
        let values = ConfigurationResolver.effectiveValues([
            file([
                ("api.key", "k-123"), ("auth.hmac_secret", "s-456"), ("engine.postgres.url", "postgres://hub:pw@db:5432/hub"),
                ("sse.retry_ms", "500"), ("namespaces.chat.presence", "true"),
            ]),
            try ConfigurationLayer.environment(["SWITCHBOARD_SSE_RETRY_MS": "700"]),
        ])
        let byKey = Dictionary(uniqueKeysWithValues: values.map { ($0.key, $0) })
        #expect(byKey["api.key"] == .init(key: "api.key", value: "***", source: "switchboard.yaml"))
        #expect(byKey["auth.hmac_secret"]?.value == "***")
        #expect(byKey["engine.postgres.url"]?.value == "postgres://hub:***@db:5432/hub")
        #expect(byKey["sse.retry_ms"] == .init(key: "sse.retry_ms", value: "700", source: "environment"))
        #expect(byKey["log.format"] == .init(key: "log.format", value: "text", source: "default"))
        #expect(byKey["namespaces.chat.presence"] == .init(key: "namespaces.chat.presence", value: "true", source: "switchboard.yaml"))
        #expect(values.first?.key == "mode")
    }

    /// Only the password of a database URL is masked; a URL without one is unchanged.
    @Test func databaseURLPasswordsAreMasked() {
        #expect(ConfigurationResolver.maskingPassword("postgres://u:p@ss@h/db") == "postgres://u:***@h/db")
        #expect(ConfigurationResolver.maskingPassword("postgres://u@h/db") == "postgres://u@h/db")
        #expect(ConfigurationResolver.maskingPassword("") == "")
    }
}

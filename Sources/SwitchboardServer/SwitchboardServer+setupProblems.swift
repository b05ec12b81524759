public import SwitchboardCore

extension SwitchboardServer {
    /// What the server would refuse at start, found without starting anything (`switchboard check-config`): the TLS
    /// files (both or neither, readable, the key fits the certificate), the token keys (`auth.public_key_file`,
    /// `auth.jwks_file`) and demo mode's requirements. The engine is not opened (the SQLite engine would create its
    /// data directory and take its lock) and the audit log is not created.
    public static func setupProblems(_ configuration: HubConfiguration) async -> [ServerSetupError] {
        var problems: [ServerSetupError] = []
        do {
            _ = try TLSCredentials.configured(by: configuration)?.makeContext()
        } catch let error as ServerSetupError {
            problems.append(error)
        } catch {
            problems.append(ServerSetupError(key: "server.tls_cert", reason: "cannot use the certificate or key: \(error)"))
        }
        do {
            _ = try await TokenVerifier(configuration.auth)
        } catch let error as ServerSetupError {
            problems.append(error)
        } catch {
            problems.append(ServerSetupError(key: "auth", reason: "cannot use the token keys: \(error)"))
        }
        if configuration.demo {
            if configuration.mode != .development {
                problems.append(ServerSetupError(key: "demo.enabled", reason: "demo mode mints tokens for anyone: development mode only"))
            } else if configuration.auth.hmacSecret == nil {
                problems.append(ServerSetupError(key: "auth.hmac_secret", reason: "demo mode signs its tokens with the HMAC secret: set one"))
            }
        }
        return problems
    }
}

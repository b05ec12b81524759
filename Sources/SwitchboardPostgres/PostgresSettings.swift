import Foundation
import NIOSSL
import PostgresNIO
public import SwitchboardBroker

/// Where the engine's database is and how it is used: `engine.postgres.*`.
public struct PostgresSettings: Sendable {
    /// The configuration key setup errors name.
    public static let urlKey = "engine.postgres.url"

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    /// `sslmode` in the URL: `disable` (the default), `prefer` or `require`.
    public var tlsMode: TLSMode
    /// Shards of channels, each with its own publish lock (`engine.postgres.shards`); fixed by the first node that
    /// creates the schema.
    public var shards: Int
    /// How often readers look for new rows when no NOTIFY woke them (`engine.postgres.poll_interval_ms`): the longest
    /// a missed wake-up delays delivery.
    public var pollInterval: Duration
    /// Most connections the engine's pool opens (the reader's own connection comes on top).
    public var maximumConnections = 20

    public enum TLSMode: String, Sendable {
        case disable, prefer, require
    }

    /// Parses `postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]`.
    /// - Throws: ``EngineSetupError`` naming `engine.postgres.url` (the password is never repeated).
    public init(url: String, shards: Int = 32, pollInterval: Duration = .milliseconds(100)) throws(EngineSetupError) {
        func refuse(_ reason: String) -> EngineSetupError { EngineSetupError(key: Self.urlKey, reason: reason) }
        guard !url.isEmpty else { throw refuse("set the PostgreSQL URL, e.g. postgres://user:password@host:5432/database") }
        guard let components = URLComponents(string: url), let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme)
        else { throw refuse("expected postgres://user:password@host:port/database") }
        guard let host = components.host, !host.isEmpty else { throw refuse("the URL names no host") }
        guard let user = components.user, !user.isEmpty else { throw refuse("the URL names no user") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw refuse("the URL names no database (…/DATABASE)") }
        var tlsMode = TLSMode.disable
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                    throw refuse("sslmode must be disable, prefer or require")
                }
                tlsMode = mode
            default:
                throw refuse("unknown URL parameter \(item.name) (known: sslmode)")
            }
        }
        guard (1...1024).contains(shards) else {
            throw EngineSetupError(key: "engine.postgres.shards", reason: "expected 1…1024 shards")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database.removingPercentEncoding ?? database
        self.tlsMode = tlsMode
        self.shards = shards
        self.pollInterval = pollInterval
    }

    var clientConfiguration: PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS =
            switch tlsMode {
            case .disable: .disable
            case .prefer: .prefer(.makeClientConfiguration())
            case .require: .require(.makeClientConfiguration())
            }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS =
            switch tlsMode {
            case .disable: .disable
            case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }
}

/// PostgreSQL failures as engine errors: what a retry can fix (the server unreachable, restarting or overloaded, a
/// lost connection, a deadlock or serialization failure) is `unavailable`; anything else is `internal`.
enum PostgresErrors {
    static func engineError(_ error: any Error, operation: String) -> EngineError {
        let error = underlying(error)
        if let engineError = error as? EngineError { return engineError }
        if let error = error as? PSQLError {
            switch error.code {
            case .server:
                let state = error.serverInfo?[.sqlState] ?? ""
                if isRetryable(sqlState: state) {
                    return EngineError(.unavailable, operation: operation, detail: "database \(state)")
                }
                return EngineError(.internal, operation: operation, detail: "database error \(state)")
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed, .queryCancelled,
                .listenFailed:
                return EngineError(.unavailable, operation: operation, detail: "database connection: \(error.code)")
            default:
                return EngineError(.internal, operation: operation, detail: "database: \(error.code)")
            }
        }
        if error is CancellationError { return EngineError(.unavailable, operation: operation, detail: "cancelled") }
        // Connection refused, host unreachable, a TLS handshake cut: NIO's errors before any PostgreSQL message.
        return EngineError(.unavailable, operation: operation, detail: "database unreachable (\(type(of: error)))")
    }

    /// The error that made a transaction fail (postgres-nio wraps the closure's, BEGIN's or COMMIT's error).
    static func underlying(_ error: any Error) -> any Error {
        guard let transaction = error as? PostgresTransactionError else { return error }
        guard let cause = transaction.closureError ?? transaction.beginError ?? transaction.commitError ?? transaction.rollbackError else {
            return error
        }
        return underlying(cause)
    }

    /// Connection exceptions (08), operator intervention (57: shutdown, cannot connect now), insufficient resources
    /// (53), serialization failure and deadlock (40001, 40P01).
    static func isRetryable(sqlState: String) -> Bool {
        sqlState.hasPrefix("08") || sqlState.hasPrefix("57") || sqlState.hasPrefix("53") || sqlState == "40001" || sqlState == "40P01"
    }
}

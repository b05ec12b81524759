/// Why an engine call failed, in the four ways callers treat differently.
///
/// Every call that goes through ``DeadlineBroker`` fails with this type only; the server maps it to protocol errors
/// and HTTP statuses in one place (`ProtocolError.init(_: EngineError)`).
public struct EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable { case unavailable, timedOut, rejected, `internal` }
        private let value: Value

        /// The engine cannot be reached (database down, connection lost); the same call may succeed later.
        public static let unavailable = Kind(value: .unavailable)
        /// The call did not finish within `engine.call_timeout_ms`; it may still take effect (publish: retry with the
        /// same idempotency key).
        public static let timedOut = Kind(value: .timedOut)
        /// The engine refused this request (a limit, bad data); retrying it unchanged fails again.
        public static let rejected = Kind(value: .rejected)
        /// Anything else: a bug or an unexpected state.
        public static let `internal` = Kind(value: .internal)

        public var description: String {
            switch value {
            case .unavailable: "unavailable"
            case .timedOut: "timed_out"
            case .rejected: "rejected"
            case .internal: "internal"
            }
        }
    }

    public var kind: Kind
    /// The Broker method that failed, e.g. `publish`, `recover`.
    public var operation: String
    /// Short text for logs and the client's reason; never secrets.
    public var detail: String

    public init(_ kind: Kind, operation: String, detail: String = "") {
        self.kind = kind
        self.operation = operation
        self.detail = detail
    }

    /// Whether the same call may succeed if the client tries again.
    public var isRetryable: Bool { kind == .unavailable || kind == .timedOut }

    public var description: String { "engine \(operation) \(kind)" + (detail.isEmpty ? "" : ": \(detail)") }

    /// Any error an engine threw, as an engine error (errors that are not one already count as internal).
    public init(wrapping error: any Error, operation: String) {
        if var engineError = error as? EngineError {
            if engineError.operation.isEmpty { engineError.operation = operation }
            self = engineError
        } else {
            self.init(.internal, operation: operation, detail: String(describing: type(of: error)))
        }
    }
}

/// An engine that cannot start: the server prints `key: reason` and exits with status 2, having changed nothing.
public struct EngineSetupError: Error, Sendable, CustomStringConvertible {
    /// The configuration key to look at, e.g. `engine.sqlite.path`.
    public var key: String
    public var reason: String

    public init(key: String, reason: String) {
        self.key = key
        self.reason = reason
    }

    public var description: String { "\(key): \(reason)" }
}

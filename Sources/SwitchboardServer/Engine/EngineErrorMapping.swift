import SwitchboardBroker
import SwitchboardCore

extension ProtocolError {
    /// The one place an engine failure becomes a wire error: command error replies, stream refusals and (through
    /// `HTTPResponse.Status(for:)`) HTTP statuses all start here.
    init(_ failure: EngineError) {
        switch failure.kind {
        case .unavailable:
            self.init(.engineUnavailable, "engine unavailable during \(failure.operation); retry")
        case .timedOut:
            self.init(.engineTimeout, "engine did not answer \(failure.operation) in time; retry")
        case .rejected:
            self.init(.engineRejected, "engine refused \(failure.operation)" + (failure.detail.isEmpty ? "" : ": \(failure.detail)"))
        default:
            self.init(.internalError, Self.internalReason(failure.operation))
        }
    }

    /// Keeps the reasons clients and docs already know for the two oldest cases.
    private static func internalReason(_ operation: String) -> String {
        switch operation {
        case "publish": "engine failed to publish"
        case "recover", "history": "engine failed to read history"
        case "presence", "presence_join": "engine failed to read presence"
        default: "engine failed: \(operation)"
        }
    }

    /// Any error from a call into the engine (calls go through ``DeadlineBroker``, so it is an ``EngineError``).
    init(engineFailure error: any Error, operation: String) {
        self.init(EngineError(wrapping: error, operation: operation))
    }

}

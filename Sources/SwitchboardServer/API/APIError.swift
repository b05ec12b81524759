import Hummingbird
import NIOCore
import SwitchboardCore

/// An HTTP API refusal: a status plus the protocol error, written as the same JSON body every refusal uses.
struct APIError: HTTPResponseError {
    var status: HTTPResponse.Status
    var error: ProtocolError
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ code: ErrorCode, _ reason: String) {
        self.status = status
        self.error = ProtocolError(code, reason)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: Pushes.httpError(error)))
    }
}

/// The one place mapping a protocol error code to an HTTP status, for errors that come from shared logic.
extension HTTPResponse.Status {
    init(for code: ErrorCode) {
        switch code {
        case .unauthorized, .invalidAPIKey: self = .unauthorized
        case .publishNotAllowed: self = .forbidden
        case .unknownNamespace, .notFound: self = .notFound
        case .messageTooLarge: self = .contentTooLarge
        case .shuttingDown, .engineUnavailable: self = .serviceUnavailable
        case .engineTimeout: self = .gatewayTimeout
        case .internalError: self = .internalServerError
        case .methodNotAllowed: self = .methodNotAllowed
        default: self = .badRequest
        }
    }
}

extension APIError {
    init(_ error: ProtocolError) {
        self.status = HTTPResponse.Status(for: error.code)
        self.error = error
        // The engine is expected back: tell clients when to try again, as for shutdown and rate limits.
        if error.code == .engineUnavailable || error.code == .engineTimeout { headers[.retryAfter] = "1" }
    }
}

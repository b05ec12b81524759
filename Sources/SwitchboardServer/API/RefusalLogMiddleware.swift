import Hummingbird
import Logging
import SwitchboardCore

/// Logs every refused HTTP request (one `notice` line: status, error code and name, reason, path, client address and
/// request id) and passes the refusal on unchanged. Outside ``JSONErrorMiddleware``, so the router's own 404/405 are
/// logged as the JSON refusals they become. The query is left out: it may carry a token.
struct RefusalLogMiddleware: RouterMiddleware {
    typealias Context = SwitchboardRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let refusal as APIError {
            context.logger.notice(
                "request refused",
                metadata: [
                    "request_id": .string(context.id), "status": .stringConvertible(refusal.status.code),
                    "code": .stringConvertible(refusal.error.code.rawValue), "error": .string(refusal.error.code.name),
                    "reason": .string(refusal.error.reason), "method": .string(request.method.rawValue), "path": .string(request.uri.path),
                    "remote": .string(context.clientAddress),
                ])
            throw refusal
        }
    }
}

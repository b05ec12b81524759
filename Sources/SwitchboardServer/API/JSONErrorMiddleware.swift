import Hummingbird
import SwitchboardCore

/// Gives the router's own refusals (no such route, wrong method) the same JSON body as every other refusal.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            switch error.status {
            case .notFound: throw APIError(.notFound, .notFound, "no route for \(request.method) \(request.uri.path)")
            case .methodNotAllowed: throw APIError(.methodNotAllowed, .methodNotAllowed, "\(request.method) is not allowed here")
            default: throw error
            }
        }
    }
}

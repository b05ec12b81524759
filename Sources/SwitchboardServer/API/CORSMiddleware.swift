import Hummingbird
import SwitchboardCore

/// CORS for the HTTP API: answers preflights, adds `access-control-allow-origin` (with credentials) for allowed
/// origins — on error responses too, so browser code can read the reason — and refuses other origins with 403.
struct CORSMiddleware<Context: RequestContext>: RouterMiddleware {
    let policy: OriginPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let decision = policy.decide(origin: request.headers[.origin], host: request.head.authority)
        if decision == .refused {
            let error = APIError(.forbidden, .originNotAllowed, "origin \(request.headers[.origin] ?? "") is not allowed")
            return try error.response(from: request, context: context)
        }
        var extra: HTTPFields = [:]
        if case .crossOrigin(let origin) = decision {
            extra[.accessControlAllowOrigin] = origin
            extra[.accessControlAllowCredentials] = "true"
            extra[.vary] = "Origin"
        }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            extra[.accessControlAllowMethods] = "GET, POST, DELETE, OPTIONS"
            extra[.accessControlAllowHeaders] = "authorization, content-type, last-event-id"
            extra[.accessControlMaxAge] = "600"
            return Response(status: .noContent, headers: extra)
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers.append(contentsOf: extra)
        return response
    }
}

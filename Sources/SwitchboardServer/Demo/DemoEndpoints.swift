import Hummingbird
import NIOCore
import SwitchboardCore

/// Demo mode's token endpoint: `POST /demo/token` with `{"sub":"alice"}` answers a one-hour connection token for
/// that name, so the demo pages can show users (presence, receipts, typing) without an identity provider.
///
/// Anyone who can reach it can be anyone: the server refuses demo mode in production (``SwitchboardServer``).
struct DemoEndpoints {
    /// `limits.max_message_bytes`: the largest request body.
    let maxBodyBytes: Int
    let metrics: ServerMetrics
    let minter: TokenMinter

    static let tokenLifetime: Duration = .seconds(3600)

    func register(on router: Router<SwitchboardRequestContext>) {
        router.post("/demo/token") { request, _ in try await self.token(request) }
    }

    private func token(_ request: Request) async throws -> Response {
        let body = try await request.collectBody(limit: maxBodyBytes, metrics: metrics)
        let fields = Dictionary(((try? JSONScanner.objectMembers(body)) ?? []).map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        guard let user = fields["sub"].flatMap(JSONScanner.decodeString), (1...64).contains(user.count),
            user.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." })
        else {
            throw APIError(.badRequest, .badRequest, "send {\"sub\": NAME} with 1–64 letters, digits, _ - .")
        }
        let token = try await minter.mint(subject: user, lifetime: Self.tokenLifetime)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        return Response(
            status: .ok, headers: headers,
            body: .init(
                byteBuffer: Pushes.object {
                    $0.key("token"); $0.string(token)
                }))
    }
}

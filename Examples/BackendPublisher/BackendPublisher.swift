import Foundation
import Hummingbird
import SwitchboardKit

/// A Hummingbird backend that tells browsers about its own events through Switchboard: a route publishes with
/// `Switchboard.API`, and the idempotency key (one per order and event) makes a retried request publish once.
///
/// ```sh
/// SWITCHBOARD_API_KEY=… swift run switchboard-example-backend     # listens on 127.0.0.1:8090
/// curl -X POST http://127.0.0.1:8090/orders/42/shipped           # → {"channel":"orders:42","position":"…:1"}
/// switchboard subscribe orders:42                                  # sees {"status":"shipped"}
/// ```
@main
struct BackendPublisher {
    struct Published: ResponseEncodable {
        var channel: String
        var position: String
    }

    static func main() async throws {
        let environment = ProcessInfo.processInfo.environment
        let api = try Switchboard.API(
            baseURL: environment["SWITCHBOARD_URL"] ?? "http://127.0.0.1:8080", apiKey: environment["SWITCHBOARD_API_KEY"] ?? "")
        let router = Router()
        router.post("/orders/{id}/shipped") { _, context -> Published in
            let id = try context.parameters.require("id", as: Int.self)
            let channel = "orders:\(id)"
            let position = try await api.publish(channel, json: #"{"status":"shipped"}"#, idempotencyKey: "order-\(id)-shipped")
            return Published(channel: channel, position: position.description)
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 8090)))
        try await app.runService()
    }
}

import Hummingbird
import NIOCore
import SwitchboardCore

/// `POST /api/disconnect` and `POST /api/revoke`: an operator's order, applied to this node's sessions at once and
/// carried by the engine to the other nodes (``ControlCommand``). Answered once every node can get it: a 503 means
/// the other nodes may not have it (this one applied it); sending the same order again is harmless.
extension HTTPAPI {
    /// Longest user, client or token id an order may name.
    static let maxControlIDBytes = 1_024
    /// A revocation without `expires_at` lasts this long (seconds), like a single-use token without `exp`.
    static let defaultRevocationSeconds: Int64 = 86_400
    /// The furthest a revocation may reach (seconds).
    static let maxRevocationSeconds: Int64 = 366 * 86_400

    func disconnect(_ request: Request, context: SwitchboardRequestContext) async throws -> Response {
        try authorize(request, context: context)
        let fields = try await controlFields(request)
        var reconnect = true
        if let raw = fields["reconnect"] {
            switch String(buffer: raw) {
            case "true": reconnect = true
            case "false": reconnect = false
            default: throw APIError(.badRequest, .badRequest, "reconnect must be true or false")
            }
        }
        let user = try controlID(fields, "user")
        let client = try controlID(fields, "client")
        let command: ControlCommand
        switch (user, client) {
        case (let user?, nil): command = .disconnectUser(user, reconnect: reconnect)
        case (nil, let client?): command = .disconnectClient(client, reconnect: reconnect)
        default: throw APIError(.badRequest, .badRequest, "give exactly one of user and client")
        }
        try await order(command)
        return controlAnswer {
            $0.key("code"); $0.int(Int(command.closeCode.rawValue))
        }
    }

    func revoke(_ request: Request, context: SwitchboardRequestContext) async throws -> Response {
        try authorize(request, context: context)
        let fields = try await controlFields(request)
        guard let id = try controlID(fields, "token_id") else { throw APIError(.badRequest, .badRequest, "token_id is required") }
        let now = tokens.currentTime
        var until = now + Self.defaultRevocationSeconds
        if let raw = fields["expires_at"] {
            guard let value = JSONScanner.decodeInteger(raw), value > now,
                value <= now + Self.maxRevocationSeconds
            else {
                throw APIError(.badRequest, .badRequest, "expires_at must be Unix seconds in the future, at most 366 days ahead")
            }
            until = value
        }
        try await order(.revokeToken(id, until: until))
        return controlAnswer {
            $0.key("expires_at"); $0.int(until)
        }
    }

    /// Applies the order here, then hands it to the engine for the other nodes.
    private func order(_ command: ControlCommand) async throws {
        audit.record("control", ["order": "\(command)"])
        control.apply(control: command)
        try await engine("broadcast") { try await $0.broadcast(command) }
    }

    private func controlFields(_ request: Request) async throws -> [String: ByteBuffer] {
        let body = try await request.collectBody(limit: maxBodyBytes, metrics: metrics)
        guard let members = try? JSONScanner.objectMembers(body) else {
            metrics.error(.invalidData)
            throw APIError(.badRequest, .invalidData, "body must be a JSON object")
        }
        var fields: [String: ByteBuffer] = [:]
        for member in members { fields[member.key] = member.value }
        return fields
    }

    /// The member `key` as a non-empty string of at most ``maxControlIDBytes``; nil when absent or null.
    private func controlID(_ fields: [String: ByteBuffer], _ key: String) throws -> String? {
        guard let raw = fields[key], JSONScanner.kind(of: raw) != .null else { return nil }
        guard let value = JSONScanner.decodeString(raw), !value.isEmpty, value.utf8.count <= Self.maxControlIDBytes else {
            throw APIError(.badRequest, .badRequest, "\(key) must be a non-empty string of at most \(Self.maxControlIDBytes) bytes")
        }
        return value
    }

    private func controlAnswer(_ body: (inout JSONWriter) -> Void) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: Pushes.object(body)))
    }
}

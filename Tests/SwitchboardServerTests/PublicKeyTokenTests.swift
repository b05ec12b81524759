import Foundation
import JWTKit
import Testing

/// Tokens signed with private keys the server never sees: ES256 and EdDSA via `auth.public_key_file`.
@Suite(.timeLimit(.minutes(1))) struct PublicKeyTokenTests {
    struct Claims: JWTPayload {
        var sub: String
        var exp: Int64
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    private func pemFile(_ pem: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("key-\(UUID().uuidString).pem").path
        try pem.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func claims() -> Claims { Claims(sub: "carol", exp: Int64(Date().timeIntervalSince1970) + 600) }

    @Test func es256TokenVerifiedWithAPEMPublicKeyAuthenticates() async throws {
        let key = ES256PrivateKey()
        let path = try pemFile(key.publicKey.pemRepresentation)
        let server = try await TestServer.start { $0.auth.publicKeyFile = path }
        let signer = JWTKeyCollection()
        await signer.add(ecdsa: key)
        let token = try await signer.sign(claims())
        let stream = try await server.sse(path: "/raw/sse/x?token=\(token)")
        #expect(stream.head.status == 200)
        let forged = JWTKeyCollection()
        await forged.add(ecdsa: ES256PrivateKey())
        let wrongKey = try await forged.sign(claims())
        let refusal = await #expect(throws: (any Error).self) { try await server.sse(path: "/raw/sse/x?token=\(wrongKey)") }
        #expect(refusal != nil)
        try await server.stop()
    }

    @Test func eddsaTokenVerifiedWithAPEMPublicKeyAuthenticates() async throws {
        let key = try EdDSA.PrivateKey()
        let path = try pemFile(key.publicKey.pemRepresentation)
        let server = try await TestServer.start { $0.auth.publicKeyFile = path }
        let signer = JWTKeyCollection()
        await signer.add(eddsa: key)
        let token = try await signer.sign(claims())
        let client = try await server.webSocket(headers: [("authorization", "Bearer \(token)")])
        let reply = try await client.command(#"{"id":1,"cmd":"connect"}"#, id: 1)
        #expect((reply?["result"] as? [String: Any])?["user"] as? String == "carol")
        try await server.stop()
    }
}

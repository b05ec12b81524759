import Foundation
import JWTKit
import Testing

/// Tokens signed with private keys the server never sees: RS256, ES256 and EdDSA via `auth.public_key_file`, and a
/// JWKS file with several keys picked by `kid` (rotation).
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

    /// A 2048-bit test key pair made with `openssl genrsa` (jwt-kit cannot generate RSA keys); test use only.
    private static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    @Test func rs256TokenVerifiedWithAPEMPublicKeyAuthenticates() async throws {
        let privatePEM = try String(contentsOf: Self.fixtures.appendingPathComponent("rsa-test-private.pem"), encoding: .utf8)
        let path = Self.fixtures.appendingPathComponent("rsa-test-public.pem").path
        let server = try await TestServer.start { $0.auth.publicKeyFile = path }
        let signer = JWTKeyCollection()
        await signer.add(rsa: try Insecure.RSA.PrivateKey(pem: privatePEM), digestAlgorithm: .sha256)
        let token = try await signer.sign(claims())
        let client = try await server.webSocket()
        let reply = try await client.command(#"{"id":1,"cmd":"connect","token":"\#(token)"}"#, id: 1)
        #expect((reply?["result"] as? [String: Any])?["user"] as? String == "carol")
        // The same claims signed with an HMAC secret must not pass as RS256 (algorithm confusion).
        let hmac = JWTKeyCollection()
        await hmac.add(hmac: HMACKey(from: try String(contentsOfFile: path, encoding: .utf8)), digestAlgorithm: .sha256)
        let confused = try await hmac.sign(claims())
        let refused = try await server.webSocket()
        #expect(errorCode(try await refused.command(#"{"id":1,"cmd":"connect","token":"\#(confused)"}"#, id: 1)) == 123)
        try await server.stop()
    }

    @Test func aJWKSFilePicksTheKeyByKidSoKeysCanRotate() async throws {
        let old = ES256PrivateKey()
        let new = ES256PrivateKey()
        func jwk(_ key: ES256PrivateKey, kid: String) -> String {
            let parameters = key.publicKey.parameters!
            return #"{"kty":"EC","crv":"P-256","alg":"ES256","kid":"\#(kid)","x":"\#(parameters.x)","y":"\#(parameters.y)"}"#
        }
        let path = try pemFile(#"{"keys":[\#(jwk(old, kid: "2026-10")),\#(jwk(new, kid: "2026-11"))]}"#)
        let server = try await TestServer.start { $0.auth.jwksFile = path }
        for (key, kid) in [(old, "2026-10"), (new, "2026-11")] {
            let signer = JWTKeyCollection()
            await signer.add(ecdsa: key, kid: JWKIdentifier(string: kid))
            let token = try await signer.sign(claims(), kid: JWKIdentifier(string: kid))
            let stream = try await server.sse(path: "/raw/sse/x?token=\(token)")
            #expect(stream.head.status == 200)
        }
        // A key that is not in the set is refused, whatever kid it claims.
        let stranger = JWTKeyCollection()
        await stranger.add(ecdsa: ES256PrivateKey(), kid: JWKIdentifier(string: "2026-11"))
        let forged = try await stranger.sign(claims(), kid: JWKIdentifier(string: "2026-11"))
        await #expect(throws: (any Error).self) { try await server.sse(path: "/raw/sse/x?token=\(forged)") }
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

import NIOCore
public import NIOSSL
import SwitchboardCore

/// The certificate chain and key the server presents, and the one TLS policy built from them.
public struct TLSCredentials: Sendable {
    let certificateChain: [NIOSSLCertificate]
    let privateKey: NIOSSLPrivateKey

    /// Protocols offered in ALPN, preferred first. Browsers take `h2` for page loads, the HTTP API and
    /// `EventSource`, and open WebSocket connections offering only `http/1.1` (RFC 8441 is not supported here).
    static let applicationProtocols = ["h2", "http/1.1"]

    /// TLS 1.2 cipher suites: forward-secret AEAD only, which is also what HTTP/2 requires (RFC 9113 §9.2.2).
    /// TLS 1.3 suites are fixed by BoringSSL (AES-GCM and ChaCha20-Poly1305).
    static let cipherSuites = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL"

    /// How long a closing connection waits for the peer's close_notify. TLS does not require waiting for it
    /// (RFC 8446 §6.1), and with half-closure enabled swift-nio-ssl reports a close_notify that crosses ours as
    /// `inputClosed` instead of completing the shutdown, so its 5-second default held every refused or drained
    /// connection (and graceful shutdown) for 5 seconds. Everything written before the close has been flushed already.
    static let shutdownTimeout = TimeAmount.milliseconds(250)

    public init(certificateChain: [NIOSSLCertificate], privateKey: NIOSSLPrivateKey) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
    }

    /// Reads PEM files; errors name the configuration key so an operator knows which setting to fix.
    public static func load(certificateFile: String, keyFile: String) throws -> TLSCredentials {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw ServerSetupError(key: "server.tls_cert", reason: "cannot read a PEM certificate chain from \(certificateFile): \(error)")
        }
        guard !chain.isEmpty else { throw ServerSetupError(key: "server.tls_cert", reason: "no certificate in \(certificateFile)") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw ServerSetupError(key: "server.tls_key", reason: "cannot read a PEM private key from \(keyFile): \(error)")
        }
        return TLSCredentials(certificateChain: chain, privateKey: key)
    }

    /// Credentials from a freshly generated development certificate (kept in memory only).
    public init(_ development: DevelopmentCertificate) throws {
        self.init(
            certificateChain: [try NIOSSLCertificate(bytes: Array(development.certificatePEM.utf8), format: .pem)],
            privateKey: try NIOSSLPrivateKey(bytes: Array(development.privateKeyPEM.utf8), format: .pem)
        )
    }

    /// The credentials a configuration names, nil when TLS is off; both keys or neither.
    static func configured(by configuration: HubConfiguration) throws -> TLSCredentials? {
        switch (configuration.tlsCertificateFile, configuration.tlsKeyFile) {
        case (nil, nil):
            return nil
        case (let certificate?, let key?):
            return try load(certificateFile: certificate, keyFile: key)
        case (nil, _):
            throw ServerSetupError(key: "server.tls_cert", reason: "server.tls_key is set but server.tls_cert is not: set both or neither")
        case (_, nil):
            throw ServerSetupError(key: "server.tls_key", reason: "server.tls_cert is set but server.tls_key is not: set both or neither")
        }
    }

    /// The server's TLS context; fails when the key does not match the certificate.
    func makeContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificateChain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuites = Self.cipherSuites
        configuration.applicationProtocols = Self.applicationProtocols
        configuration.shutdownTimeout = Self.shutdownTimeout
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw ServerSetupError(key: "server.tls_key", reason: "the key does not fit the certificate, or either is unusable: \(error)")
        }
    }
}

import NIOSSL

/// How a client speaks TLS: which certificates it trusts and which name it expects the server to prove.
///
/// Tests and development trust one self-signed certificate as their only root; production clients use the system
/// roots (``systemTrust(serverHostname:)``).
public struct ClientTLS: Sendable {
    let trustRoots: NIOSSLTrustRoots
    /// Sent as SNI and checked against the certificate's names. IP addresses cannot be sent as SNI, so connect to
    /// `127.0.0.1` with `serverHostname: "localhost"` and a certificate that names both.
    public var serverHostname: String?

    /// Trusts exactly the certificate(s) in `pem` as roots.
    public init(trustingPEM pem: String, serverHostname: String? = "localhost") throws {
        self.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
        self.serverHostname = serverHostname
    }

    /// Trusts the system's root certificates.
    public static func systemTrust(serverHostname: String?) -> ClientTLS {
        ClientTLS(trustRoots: .default, serverHostname: serverHostname)
    }

    private init(trustRoots: NIOSSLTrustRoots, serverHostname: String?) {
        self.trustRoots = trustRoots
        self.serverHostname = serverHostname
    }

    /// A handler for one connection offering `protocols` in ALPN (`["http/1.1"]` or `["h2"]`).
    func makeHandler(offering protocols: [String]) throws -> NIOSSLClientHandler {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = trustRoots
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = protocols
        return try NIOSSLClientHandler(context: try NIOSSLContext(configuration: configuration), serverHostname: serverHostname)
    }
}

import NIOSSL

extension Switchboard {
    /// How the SDK checks the hub's certificate on `wss://` and `https://` URLs.
    ///
    /// The default trusts the system's root certificates. A development hub with a self-signed certificate
    /// (`switchboard cert`) is reached by trusting that certificate (or the CA that signed it) instead:
    ///
    /// ```swift
    /// var configuration = Switchboard.Client.Configuration()
    /// configuration.tls = try .trusting(pem: String(contentsOfFile: "dev-cert.pem"))
    /// let client = try Switchboard.Client(url: "wss://localhost:8443", configuration: configuration)
    /// ```
    ///
    /// The certificate must name the host of the URL (a DNS name, or an IP address for `wss://127.0.0.1`), unless
    /// ``serverHostname`` names another. A certificate that fails the check is not retried: the client stops with
    /// ``ClientError/Code/tlsFailed``.
    public struct TLS: Sendable {
        let trustRoots: NIOSSLTrustRoots
        /// The name the certificate must carry, sent as SNI; nil (the default) uses the URL's host (and checks an IP
        /// address against the certificate's IP addresses, without SNI).
        public var serverHostname: String?

        /// Trusts the system's root certificates.
        public static let systemRoots = TLS(trustRoots: .default, serverHostname: nil)

        /// Trusts exactly the certificates in `pem` (one or more `-----BEGIN CERTIFICATE-----` blocks) as roots.
        /// - Throws: ``ClientError`` with ``ClientError/Code/tlsFailed`` when `pem` holds no readable certificate.
        public static func trusting(pem: String, serverHostname: String? = nil) throws -> TLS {
            let certificates: [NIOSSLCertificate]
            do {
                certificates = try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8))
            } catch {
                throw ClientError(.tlsFailed, "the trusted certificates cannot be read: \(error)")
            }
            guard !certificates.isEmpty else { throw ClientError(.tlsFailed, "no certificate in the trusted PEM") }
            return TLS(trustRoots: .certificates(certificates), serverHostname: serverHostname)
        }

        init(trustRoots: NIOSSLTrustRoots, serverHostname: String?) {
            self.trustRoots = trustRoots
            self.serverHostname = serverHostname
        }

        /// A handler for one connection to `host`, offering HTTP/1.1 in ALPN.
        func makeHandler(host: String) throws -> NIOSSLClientHandler {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = trustRoots
            configuration.minimumTLSVersion = .tlsv12
            configuration.applicationProtocols = ["http/1.1"]
            let context = try NIOSSLContext(configuration: configuration)
            return try NIOSSLClientHandler(context: context, serverHostname: serverHostname ?? Self.sniName(host))
        }

        /// SNI carries DNS names only; an IP address is checked against the certificate without it.
        static func sniName(_ host: String) -> String? {
            let isIPv6 = host.contains(":")
            let isIPv4 =
                host.split(separator: ".", omittingEmptySubsequences: false).count == 4
                && host.allSatisfy { $0 == "." || $0.isASCII && $0.isNumber }
            return isIPv6 || isIPv4 ? nil : host
        }

        /// Whether `error` is the hub's certificate failing the check (untrusted, expired, wrong name): retrying
        /// cannot help, unlike a link that dropped during the handshake.
        static func isCertificateFailure(_ error: any Error) -> Bool {
            if let extra = error as? NIOSSLExtraError {
                return extra == .failedToValidateHostname || extra == .serverHostnameImpossibleToMatch
            }
            guard case .handshakeFailed(let failure) = error as? NIOSSLError else { return false }
            return "\(failure)".contains("CERTIFICATE_VERIFY_FAILED")
        }
    }
}

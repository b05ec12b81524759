import Crypto
public import Foundation
import NIOCore
import SwiftASN1
import X509

/// A self-signed certificate and its P-256 key, for development only: browsers and clients trust it only when told to.
///
/// It is an end-entity certificate (not a CA): Firefox refuses a CA certificate used as a server certificate, and a
/// client that trusts this very certificate as a root (the tests, `curl --cacert`) accepts a self-signed leaf. It has
/// no key-usage extension on purpose: OpenSSL and BoringSSL treat a certificate as self-signed only when its key may
/// sign certificates, so `digitalSignature` alone would make it unverifiable even when trusted.
public struct DevelopmentCertificate: Sendable {
    /// The certificate, PEM.
    public let certificatePEM: String
    /// The private key, PKCS#8 PEM.
    public let privateKeyPEM: String

    /// Names a development certificate covers unless told otherwise.
    public static let defaultHosts = ["localhost", "127.0.0.1", "::1"]

    /// - Parameters:
    ///   - hosts: DNS names and IP addresses (v4 or v6) to put in the subject alternative names; at least one.
    ///   - days: validity from an hour ago (clock skew) until `days` from `now`; 1…3650.
    /// - Throws: ``DevelopmentCertificateError`` for an empty host list, an invalid name or an out-of-range `days`.
    public static func generate(hosts: [String] = defaultHosts, days: Int = 30, now: Date = Date()) throws -> DevelopmentCertificate {
        guard !hosts.isEmpty else { throw DevelopmentCertificateError("name at least one host") }
        guard (1...3650).contains(days) else { throw DevelopmentCertificateError("days must be 1…3650, got \(days)") }
        let names = try hosts.map(subjectAlternativeName)
        let key = P256.Signing.PrivateKey()
        let certificateKey = Certificate.PrivateKey(key)
        let subject = try DistinguishedName {
            OrganizationName("Switchboard development")
            CommonName(hosts[0])
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames(names)
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: certificateKey.publicKey,
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(TimeInterval(days) * 86_400),
            issuer: subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: certificateKey
        )
        return DevelopmentCertificate(certificatePEM: try certificate.serializeAsPEM().pemString, privateKeyPEM: key.pemRepresentation)
    }

    /// An IP literal becomes an `iPAddress` name (browsers never match IPs against DNS names), anything else a DNS name.
    private static func subjectAlternativeName(_ host: String) throws -> GeneralName {
        if let address = try? SocketAddress(ipAddress: host, port: 0) {
            switch address {
            case .v4(let v4):
                return .ipAddress(ASN1OctetString(contentBytes: withUnsafeBytes(of: v4.address.sin_addr) { ArraySlice($0) }))
            case .v6(let v6):
                return .ipAddress(ASN1OctetString(contentBytes: withUnsafeBytes(of: v6.address.sin6_addr) { ArraySlice($0) }))
            case .unixDomainSocket:
                break
            }
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-.*")
        guard !host.isEmpty, host.count <= 253, host.lowercased().allSatisfy(allowed.contains) else {
            throw DevelopmentCertificateError("not a host name or IP address: \"\(host)\"")
        }
        return .dnsName(host.lowercased())
    }
}

/// Why a development certificate could not be made.
public struct DevelopmentCertificateError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

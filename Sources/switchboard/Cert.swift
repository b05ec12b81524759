import ArgumentParser
import Foundation
import SwitchboardServer

struct Cert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a self-signed development certificate and key (P-256) for serve --tls-cert/--tls-key.",
        discussion: """
            Writes DIR/cert.pem and DIR/key.pem (the key readable by its owner only) and prints their paths. Clients \
            trust it only when told to: curl --cacert DIR/cert.pem, or accept the browser's warning once. For \
            development only: use a certificate from a real CA in production (docs/security.md).
            """
    )

    @Option(name: .long, help: "Directory to write cert.pem and key.pem into (created if missing).")
    var out: String

    @Option(name: .long, help: "DNS name or IP address the certificate covers (repeatable; default localhost, 127.0.0.1, ::1).")
    var host: [String] = []

    @Option(name: .long, help: "Days the certificate stays valid, 1…3650.")
    var days = 30

    @Flag(name: .long, help: "Replace cert.pem and key.pem if they exist.")
    var force = false

    func run() throws {
        let certificate: DevelopmentCertificate
        do {
            certificate = try DevelopmentCertificate.generate(hosts: host.isEmpty ? DevelopmentCertificate.defaultHosts : host, days: days)
        } catch let error as DevelopmentCertificateError {
            throw ValidationError(error.description)
        }
        let files = FileManager.default
        let directory = URL(fileURLWithPath: out, isDirectory: true)
        let certificatePath = directory.appendingPathComponent("cert.pem").path
        let keyPath = directory.appendingPathComponent("key.pem").path
        if !force, let existing = [certificatePath, keyPath].first(where: files.fileExists(atPath:)) {
            throw ValidationError("\(existing) exists; pass --force to replace it")
        }
        do {
            try files.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(certificate.certificatePEM.utf8).write(to: URL(fileURLWithPath: certificatePath))
            // Created owner-only before the key is written, so the key is never readable by others.
            _ = files.createFile(atPath: keyPath, contents: nil, attributes: [.posixPermissions: 0o600])
            try files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyPath)
            try Data(certificate.privateKeyPEM.utf8).write(to: URL(fileURLWithPath: keyPath))
        } catch {
            Output.error("switchboard: cannot write the certificate: \(error.localizedDescription)")
            throw ExitCode(1)
        }
        Output.line("certificate: \(certificatePath)")
        Output.line("key: \(keyPath)")
        Output.line("serve with: switchboard serve --tls-cert \(certificatePath) --tls-key \(keyPath)")
    }
}

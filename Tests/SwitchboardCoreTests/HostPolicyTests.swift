import SwitchboardCore
import Testing

/// `Host` and `Origin` rules checked before any origin rule (RFC 9112 §3.2, DNS rebinding).
struct HostPolicyTests {
    private let development = HostPolicy(publicHosts: [], development: true)

    /// Should refuse a missing Host on HTTP/1.1 but accept it on HTTP/1.0, which has no Host requirement.
    @Test func hostIsRequiredFromHTTP11On() {
        #expect(development.check(hosts: [], origins: [], requiresHost: true)?.misdirected == false)
        #expect(development.check(hosts: [], origins: [], requiresHost: false) == nil)
    }

    /// Should refuse two Host headers and two Origin headers, whatever they say.
    @Test func duplicatesAreRefused() {
        #expect(development.check(hosts: ["localhost", "localhost"], origins: [], requiresHost: true)?.reason == "more than one Host header")
        #expect(
            development.check(hosts: ["localhost"], origins: ["http://localhost", "http://localhost"], requiresHost: true)?.reason
                == "more than one Origin header")
    }

    /// Should accept localhost names and IP literals with or without a port, in any case.
    @Test(arguments: ["localhost", "LOCALHOST:8080", "app.localhost:3000", "127.0.0.1", "127.0.0.1:8080", "[::1]:8080", "[::1]", "192.168.1.20:8080"])
    func localNamesAndAddressesAreAccepted(host: String) {
        #expect(development.check(hosts: [host], origins: [], requiresHost: true) == nil)
    }

    /// Should refuse a DNS name in development unless it is listed, as misdirected.
    @Test func developmentRefusesOtherNames() {
        let refusal = development.check(hosts: ["rebind.evil.example:8080"], origins: ["http://rebind.evil.example:8080"], requiresHost: true)
        #expect(refusal?.misdirected == true)
        #expect(refusal?.reason.contains("rebind.evil.example") == true)
        let listed = HostPolicy(publicHosts: ["dev.example.com"], development: true)
        #expect(listed.check(hosts: ["dev.example.com:8080"], origins: [], requiresHost: true) == nil)
    }

    /// Should accept any well-formed name in production without a list, and only listed ones with it.
    @Test func productionChecksNamesOnceAListIsSet() {
        let open = HostPolicy(publicHosts: [], development: false)
        #expect(open.check(hosts: ["anything.example"], origins: [], requiresHost: true) == nil)
        let listed = HostPolicy(publicHosts: ["app.example.com", "*.example.org"], development: false)
        #expect(listed.check(hosts: ["App.Example.com:443"], origins: [], requiresHost: true) == nil)
        #expect(listed.check(hosts: ["eu.example.org"], origins: [], requiresHost: true) == nil)
        #expect(listed.check(hosts: ["example.org"], origins: [], requiresHost: true)?.misdirected == true)
        #expect(listed.check(hosts: ["evil-example.org"], origins: [], requiresHost: true)?.misdirected == true)
        #expect(listed.check(hosts: ["10.0.0.5:8080"], origins: [], requiresHost: true) == nil)
    }

    /// Should refuse values that are not `host[:port]`.
    @Test(arguments: ["", ":80", "a b", "a/b", "host:port", "host:123456", "[::1", "[zz]", "user@host", "a,b"])
    func malformedHostsAreRefused(host: String) {
        #expect(development.check(hosts: [host], origins: [], requiresHost: true)?.misdirected == false)
    }

    /// Should quote at most 64 characters of a refused name.
    @Test func aLongRefusedNameIsNotEchoedWhole() {
        let name = String(repeating: "a", count: 5000) + ".example"
        let refusal = development.check(hosts: [name], origins: [], requiresHost: true)
        #expect((refusal?.reason.count ?? 0) < 200)
    }
}

import Testing

@testable import SwitchboardServer

/// `engine.postgres.advertise_url` and the owner named by a session address (docs/engines.md, "No sticky sessions");
/// forwarding itself runs over real nodes in tests/engine/test_postgres_cluster.py.
struct SessionForwarderTests {
    @Test func advertisedURLsAreHTTPHostAndPortOnly() {
        #expect(NodeURL("http://10.0.0.1:8080") == NodeURL(host: "10.0.0.1", port: 8080))
        #expect(NodeURL("http://node-1.internal:80/") == NodeURL(host: "node-1.internal", port: 80))
        #expect(NodeURL("http://[::1]:9000") == NodeURL(host: "::1", port: 9000))
        for refused in [
            "https://10.0.0.1:8080", "http://10.0.0.1", "http://10.0.0.1:0", "http://10.0.0.1:65536", "http://:80", "http://a:80/path",
            "http://user@a:80", "http://a:80?x", "10.0.0.1:80", "http://[::1]", "",
        ] {
            #expect(NodeURL(refused) == nil, "\(refused)")
        }
        #expect(NodeURL(host: "::1", port: 9000).text == "http://[::1]:9000")
        #expect(NodeURL(host: "10.0.0.1", port: 80).text == "http://10.0.0.1:80")
    }
}

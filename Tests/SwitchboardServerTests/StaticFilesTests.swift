import Foundation
import SwitchboardClient
import SwitchboardCore
import Testing

/// `server.web_root` as an attacker probes it: names cut by a NUL, links out of the root, dotfiles, files without a
/// known type. Every case runs over a real socket; the last request of each test is a healthy one.
@Suite(.timeLimit(.minutes(1))) struct StaticFilesTests {
    /// A web root with a JSON file, a file without extension, a dotfile, a link inside and a link to a secret outside.
    private struct Site {
        let root: URL
        let outside: URL

        init() throws {
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("webroot-\(UUID().uuidString)")
            root = base.appendingPathComponent("site")
            outside = base.appendingPathComponent("secret.txt")
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            try #"{"ok":true}"#.write(to: root.appendingPathComponent("data.json"), atomically: true, encoding: .utf8)
            try "<svg/>".write(to: root.appendingPathComponent("noext"), atomically: true, encoding: .utf8)
            try "API_KEY=hunter2".write(to: root.appendingPathComponent(".env"), atomically: true, encoding: .utf8)
            try "top secret".write(to: outside, atomically: true, encoding: .utf8)
            try FileManager.default.createSymbolicLink(at: root.appendingPathComponent("secret-link"), withDestinationURL: outside)
            try FileManager.default.createSymbolicLink(
                at: root.appendingPathComponent("data-link.json"), withDestinationURL: root.appendingPathComponent("data.json"))
        }
    }

    private func get(_ server: TestServer, _ path: String) async throws -> HTTPClient.Response {
        try await server.http("GET", path, apiKey: nil)
    }

    private func header(_ response: HTTPClient.Response, _ name: String) -> String? {
        response.head.headers.first(where: { $0.name.lowercased() == name })?.value
    }

    @Test(arguments: ["/data.json%00.html", "/noext%00.svg", "/data.json%0a", "/a%1Fb", "/data%7F.json"])
    func aControlCharacterInThePathIsRefusedWith400(path: String) async throws {
        let site = try Site()
        let server = try await TestServer.start { $0.webRoot = site.root.path }
        let refused = try await get(server, path)
        #expect(refused.status == 400)
        #expect(header(refused, "content-type") != "text/html")
        let healthy = try await get(server, "/data.json")
        #expect(healthy.status == 200)
        #expect(healthy.bodyText == #"{"ok":true}"#)
        try await server.stop()
    }

    @Test func filesLeaveWithNosniffAndAContentTypeEvenWithoutAnExtension() async throws {
        let site = try Site()
        let server = try await TestServer.start { $0.webRoot = site.root.path }
        let json = try await get(server, "/data.json")
        #expect(header(json, "content-type")?.hasPrefix("application/json") == true)
        #expect(header(json, "x-content-type-options") == "nosniff")
        let unknown = try await get(server, "/noext")
        #expect(unknown.status == 200)
        #expect(header(unknown, "content-type") == "application/octet-stream")
        #expect(header(unknown, "x-content-type-options") == "nosniff")
        try await server.stop()
    }

    @Test func dotfilesAndLinksOutOfTheRootAreNotServed() async throws {
        let site = try Site()
        let server = try await TestServer.start { $0.webRoot = site.root.path }
        #expect(try await get(server, "/.env").status == 404)
        #expect(try await get(server, "/secret-link").status == 404)
        let inside = try await get(server, "/data-link.json")
        #expect(inside.status == 200)
        #expect(inside.bodyText == #"{"ok":true}"#)
        try await server.stop()
    }

    @Test func followingLinksOutOfTheRootIsOptIn() async throws {
        let site = try Site()
        let server = try await TestServer.start {
            $0.webRoot = site.root.path
            $0.webRootFollowsSymlinks = true
        }
        let linked = try await get(server, "/secret-link")
        #expect(linked.status == 200)
        #expect(linked.bodyText == "top secret")
        #expect(try await get(server, "/.env").status == 404)
        try await server.stop()
    }

    @Test func aControlCharacterIsRefusedOnAPIRoutesToo() async throws {
        let server = try await TestServer.start()
        #expect(try await server.http("GET", "/healthz%00").status == 400)
        #expect(try await server.http("GET", "/healthz").status == 200)
        try await server.stop()
    }
}

import Foundation
import SwitchboardClient
import SwitchboardCore
import Testing

/// The server on its default engine (SQLite): what a client sees of durability and idempotency, over real sockets.
@Suite(.timeLimit(.minutes(1))) struct DurableEngineServerTests {
    private static func dataDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-server-test-\(UUID().uuidString)").path
    }

    private func server(_ directory: String) async throws -> TestServer {
        try await TestServer.start { configuration in
            configuration.engineType = .sqlite
            configuration.sqlitePath = directory
        }
    }

    @Test func aRepeatedIdempotencyKeyIsAnsweredWithTheOriginalPositionAndDuplicateTrue() async throws {
        let directory = Self.dataDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try await server(directory)
        let body = #"{"channel":"news","data":1,"idempotencyKey":"n-1"}"#
        let first = try await server.http("POST", "/api/publish", body: body)
        let again = try await server.http("POST", "/api/publish", body: body)
        let epoch = try #require(first.json?["epoch"] as? String)
        #expect(first.bodyText == #"{"channel":"news","epoch":"\#(epoch)","offset":1}"#)
        #expect(again.bodyText == #"{"channel":"news","epoch":"\#(epoch)","offset":1,"duplicate":true}"#)
        let client = try await server.webSocket()
        let reply = try await client.command(#"{"id":1,"cmd":"publish","channel":"news","data":1,"idempotencyKey":"n-1"}"#, id: 1)
        let result = reply?["result"] as? [String: Any]
        #expect(result?["offset"] as? Int == 1)
        #expect(result?["duplicate"] as? Bool == true)
        try await server.stop()
    }

    @Test func aClientRecoversExactlyAcrossARestartOfTheServerOnTheSameDataDirectory() async throws {
        let directory = Self.dataDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try await server(directory)
        var position: [String: Any] = [:]
        for n in 1...3 {
            let answer = try await first.http("POST", "/api/publish", body: #"{"channel":"news","data":\#(n)}"#)
            if n == 1 { position = try #require(answer.json) }
        }
        try await first.stop()
        let second = try await server(directory)
        let client = try await second.webSocket()
        let epoch = try #require(position["epoch"] as? String)
        let reply = try await client.command(
            #"{"id":1,"cmd":"subscribe","channel":"news","since":{"epoch":"\#(epoch)","offset":1}}"#, id: 1)
        let result = reply?["result"] as? [String: Any]
        #expect(result?["recovered"] as? Bool == true)
        #expect(await client.nextPush("publication")?["data"] as? Int == 2)
        #expect(await client.nextPush("publication")?["data"] as? Int == 3)
        #expect(try await second.http("POST", "/api/publish", body: #"{"channel":"news","data":4}"#).json?["offset"] as? Int == 4)
        #expect(await client.nextPush("publication")?["offset"] as? Int == 4)
        try await second.stop()
    }
}

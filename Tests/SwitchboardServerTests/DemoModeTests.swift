import SwitchboardCore
import SwitchboardServer
import Testing

@Suite(.timeLimit(.minutes(1))) struct DemoModeTests {
    @Test func theDemoTokenEndpointMintsATokenForAName() async throws {
        let server = try await TestServer.start { $0.demo = true }
        let response = try await server.request("POST", "/demo/token", body: #"{"sub":"alice"}"#)
        #expect(response.status == 200)
        let token = try #require(response.json?["token"] as? String)
        let ws = try await server.webSocket()
        #expect(try await ws.connectedClientID(token: token).isEmpty == false)
        let reply = try await ws.command(#"{"id":2,"cmd":"connect"}"#, id: 2)
        #expect((reply?["result"] as? [String: Any])?["user"] as? String == "alice")
    }

    @Test func aDemoTokenNeedsAPlainName() async throws {
        let server = try await TestServer.start { $0.demo = true }
        for body in [#"{}"#, #"{"sub":""}"#, #"{"sub":"a b"}"#, "not json"] {
            #expect(try await server.request("POST", "/demo/token", body: body).status == 400)
        }
    }

    @Test func theSimulatedTickerPublishesKeyedPrices() async throws {
        let server = try await TestServer.start { $0.demo = true }
        let ws = try await server.webSocket()
        _ = try await ws.command(#"{"id":1,"cmd":"subscribe","channel":"ticker:prices"}"#, id: 1)
        let push = await ws.nextPush("publication")
        let symbol = try #require(push?["key"] as? String)
        #expect((push?["data"] as? [String: Any])?["symbol"] as? String == symbol)
        #expect((push?["data"] as? [String: Any])?["price"] is Double)
    }

    @Test func withoutDemoModeThereIsNoTokenEndpoint() async throws {
        let server = try await TestServer.start()
        #expect(try await server.request("POST", "/demo/token", body: #"{"sub":"alice"}"#).status == 404)
    }

    @Test func demoModeIsRefusedInProduction() async throws {
        await #expect(throws: ServerSetupError.self) {
            _ = try await TestServer.start {
                $0.mode = .production
                $0.demo = true
            }
        }
    }
}

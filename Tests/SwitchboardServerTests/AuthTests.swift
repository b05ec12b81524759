import Crypto
import Foundation
import SwitchboardClient
import SwitchboardCore
import SwitchboardServer
import Testing

/// Connection tokens: verified before the upgrade, in the connect command, refreshed in band.
@Suite(.timeLimit(.minutes(1))) struct AuthTests {
    @Test func badTokenWithTheUpgradeIsRefusedWith401BeforeAnyUpgrade() async throws {
        let server = try await TestServer.start()
        let forged = try await TestServer.token("mallory", secret: "another-secret-that-is-long-enough-123456")
        let refusal = await #expect(throws: HTTPRefusal.self) {
            try await server.webSocket(headers: [("authorization", "Bearer \(forged)")])
        }
        #expect(refusal?.status == 401)
        #expect(errorCode(object(refusal?.body)) == 123)
        try await server.stop()
    }

    @Test func expiredTokenIsRefusedWithItsOwnCode() async throws {
        let server = try await TestServer.start()
        let expired = try await TestServer.token("alice", lifetime: .seconds(60), now: Date(timeIntervalSinceNow: -3600))
        let refusal = await #expect(throws: HTTPRefusal.self) { try await server.sse(path: "/raw/sse/x?token=\(expired)") }
        #expect(refusal?.status == 401)
        #expect(errorCode(object(refusal?.body)) == 124)
        try await server.stop()
    }

    @Test func tokenThatIsNotValidYetIsRefused() async throws {
        let server = try await TestServer.start()
        let early = try await TokenMinter(hmacSecret: TestServer.hmacSecret).mint(
            subject: "alice", lifetime: .seconds(7200), notBefore: Date(timeIntervalSinceNow: 3600)
        )
        let refusal = await #expect(throws: HTTPRefusal.self) { try await server.sse(path: "/raw/sse/x?token=\(early)") }
        #expect(refusal?.status == 401)
        #expect(errorCode(object(refusal?.body)) == 123)
        try await server.stop()
    }

    @Test func unsignedAlgNoneTokenIsRefused() async throws {
        let server = try await TestServer.start()
        let header = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64URL
        let payload = Data(#"{"sub":"root","exp":4102444800}"#.utf8).base64URL
        let refusal = await #expect(throws: HTTPRefusal.self) {
            try await server.webSocket(headers: [("cookie", "switchboard_token=\(header).\(payload).")])
        }
        #expect(refusal?.status == 401)
        try await server.stop()
    }

    @Test func tokenWhoseAlgDoesNotMatchItsKeyIsRefused() async throws {
        let server = try await TestServer.start()
        let parts = try await TestServer.token("alice").split(separator: ".")
        let swapped = Data(#"{"alg":"RS256","typ":"JWT"}"#.utf8).base64URL + "." + parts[1] + "." + parts[2]
        let refusal = await #expect(throws: HTTPRefusal.self) { try await server.sse(path: "/raw/sse/x?token=\(swapped)") }
        #expect(refusal?.status == 401)
        #expect(errorCode(object(refusal?.body)) == 123)
        try await server.stop()
    }

    /// The signature is a valid HMAC-SHA256 with the server's own secret over a header that names another algorithm:
    /// only the header's `alg` is wrong, so only the algorithm check can refuse it.
    @Test(arguments: [
        #"{"alg":"none","typ":"JWT"}"#, #"{"alg":"RS256"}"#, #"{"alg":"ES256"}"#, #"{"alg":"HS512"}"#, #"{"alg":"foo"}"#, #"{"typ":"JWT"}"#,
    ])
    func tokenSignedWithTheSecretButLabelledAnotherAlgIsRefused(header: String) async throws {
        let server = try await TestServer.start()
        let signingInput = Data(header.utf8).base64URL + "." + Data(#"{"sub":"mallory","exp":4102444800}"#.utf8).base64URL
        let mac = HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: SymmetricKey(data: Data(TestServer.hmacSecret.utf8)))
        let relabelled = signingInput + "." + Data(mac).base64URL
        let refusal = await #expect(throws: HTTPRefusal.self) { try await server.sse(path: "/raw/sse/x?token=\(relabelled)") }
        #expect(refusal?.status == 401)
        #expect(errorCode(object(refusal?.body)) == 123)
        let socket = try await server.webSocket()
        #expect(errorCode(try await socket.command(#"{"id":1,"cmd":"connect","token":"\#(relabelled)"}"#, id: 1)) == 123)
        // The same bytes under the honest header pass: the refusal is the algorithm check's alone.
        let honestInput = Data(#"{"alg":"HS256"}"#.utf8).base64URL + "." + Data(#"{"sub":"alice","exp":4102444800}"#.utf8).base64URL
        let honestMac = HMAC<SHA256>.authenticationCode(for: Data(honestInput.utf8), using: SymmetricKey(data: Data(TestServer.hmacSecret.utf8)))
        let healthy = try await server.webSocket()
        let reply = try await healthy.command(#"{"id":1,"cmd":"connect","token":"\#(honestInput).\#(Data(honestMac).base64URL)"}"#, id: 1)
        #expect((reply?["result"] as? [String: Any])?["user"] as? String == "alice")
        try await server.stop()
    }

    @Test func tokenInASubprotocolEntryAuthenticatesABrowserWebSocket() async throws {
        let server = try await TestServer.start()
        let token = try await TestServer.token("alice")
        let client = try await server.webSocket(subprotocols: ["switchboard.v1.json", "switchboard.token.\(token)"])
        #expect(client.subprotocol == "switchboard.v1.json")
        let reply = try await client.command(#"{"id":1,"cmd":"connect"}"#, id: 1)
        #expect((reply?["result"] as? [String: Any])?["user"] as? String == "alice")
        try await server.stop()
    }

    @Test func productionRefusesAnonymousStreamsAndAcceptsTokens() async throws {
        let server = try await TestServer.start {
            $0.mode = .production
            $0.channelDefaults = .defaults(for: .production)
        }
        let anonymous = await #expect(throws: HTTPRefusal.self) { try await server.sse(path: "/raw/sse/news") }
        #expect(anonymous?.status == 401)
        #expect(errorCode(object(anonymous?.body)) == 101)
        let token = try await TestServer.token("reader")
        let stream = try await server.sse(path: "/raw/sse/news", headers: [("authorization", "Bearer \(token)")])
        try await server.publish("news", #""hello""#)
        #expect(await stream.next()?.data == #""hello""#)
        try await server.stop()
    }

    @Test func badTokenInTheConnectCommandClosesWith4501() async throws {
        let server = try await TestServer.start()
        let client = try await server.webSocket()
        try await client.send(text: #"{"id":1,"cmd":"connect","token":"not.a.jwt"}"#)
        var code: Int?
        var closeCode: UInt16?
        while let message = await client.receive() {
            if case .text(let text) = message, let error = errorCode(object(text)) { code = error }
            if case .close(let value, _) = message { closeCode = value }
        }
        #expect(code == 123)
        #expect(closeCode == 4501)
        try await server.stop()
    }

    @Test func expiredTokenInTheConnectCommandClosesWith4502() async throws {
        let server = try await TestServer.start()
        let expired = try await TestServer.token("alice", lifetime: .seconds(60), now: Date(timeIntervalSinceNow: -3600))
        let client = try await server.webSocket()
        try await client.send(text: #"{"id":1,"cmd":"connect","token":"\#(expired)"}"#)
        #expect(await client.closeCode() == 4502)
        try await server.stop()
    }

    @Test func capabilitiesAreAClosedListForSubscribeAndPublish() async throws {
        let server = try await TestServer.start()
        let token = try await TestServer.token(
            "alice", capabilities: Capabilities(subscribe: [ChannelPattern("chat:*")], publish: [ChannelPattern("chat:lobby")])
        )
        let client = try await server.webSocket()
        let connected = try await client.command(#"{"id":1,"cmd":"connect","token":"\#(token)"}"#, id: 1)
        #expect((connected?["result"] as? [String: Any])?["user"] as? String == "alice")
        #expect(try await client.command(#"{"id":2,"cmd":"subscribe","channel":"chat:lobby"}"#, id: 2)?["result"] != nil)
        #expect(errorCode(try await client.command(#"{"id":3,"cmd":"subscribe","channel":"news:x"}"#, id: 3)) == 122)
        #expect(try await client.command(#"{"id":4,"cmd":"publish","channel":"chat:lobby","data":1}"#, id: 4)?["result"] != nil)
        #expect(errorCode(try await client.command(#"{"id":5,"cmd":"publish","channel":"chat:other","data":1}"#, id: 5)) == 103)
        try await server.stop()
    }

    @Test func publicationsCarryTheSenderFromTheToken() async throws {
        let server = try await TestServer.start()
        let token = try await TestServer.token("alice")
        let client = try await server.webSocket()
        _ = try await client.command(#"{"id":1,"cmd":"connect","token":"\#(token)"}"#, id: 1)
        _ = try await client.command(#"{"id":2,"cmd":"subscribe","channel":"chat:who"}"#, id: 2)
        try await client.send(text: #"{"id":3,"cmd":"publish","channel":"chat:who","data":{"sender":"spoofed"}}"#)
        let push = await client.nextPush("publication")
        #expect(push?["sender"] as? String == "alice")
        try await server.stop()
    }

    @Test func privateChannelsNeedASubscriptionTokenForThatChannel() async throws {
        let server = try await TestServer.start { configuration in
            var secret = configuration.channelDefaults
            secret.isPrivate = true
            configuration.namespaces["private"] = secret
        }
        let token = try await TestServer.token("alice")
        let client = try await server.webSocket()
        _ = try await client.command(#"{"id":1,"cmd":"connect","token":"\#(token)"}"#, id: 1)
        #expect(errorCode(try await client.command(#"{"id":2,"cmd":"subscribe","channel":"private:room"}"#, id: 2)) == 122)
        let other = try await TestServer.token("alice", channel: "private:other")
        #expect(errorCode(try await client.command(#"{"id":3,"cmd":"subscribe","channel":"private:room","token":"\#(other)"}"#, id: 3)) == 125)
        let right = try await TestServer.token("alice", channel: "private:room")
        #expect(try await client.command(#"{"id":4,"cmd":"subscribe","channel":"private:room","token":"\#(right)"}"#, id: 4)?["result"] != nil)
        try await server.stop()
    }

    @Test func singleUseTokenCannotBeUsedTwice() async throws {
        let server = try await TestServer.start()
        let token = try await TestServer.token("alice", singleUseID: "jti-1")
        _ = try await server.sse(path: "/raw/sse/x?token=\(token)")
        let again = await #expect(throws: HTTPRefusal.self) { try await server.sse(path: "/raw/sse/x?token=\(token)") }
        #expect(errorCode(object(again?.body)) == 126)
        try await server.stop()
    }

    /// An expiring connection is asked to refresh, refreshes in band and keeps its subscriptions without a gap.
    @Test func expiredTokenIsRefreshedInBandWithoutLosingAPublication() async throws {
        let clock = ManualTokenClock()
        let server = try await TestServer.start(clock: clock) { $0.heartbeat.interval = .milliseconds(20) }
        let token = try await TestServer.token("alice", lifetime: .seconds(60), now: clock.date)
        let client = try await server.webSocket()
        _ = try await client.command(#"{"id":1,"cmd":"connect","token":"\#(token)"}"#, id: 1)
        _ = try await client.command(#"{"id":2,"cmd":"subscribe","channel":"chat:refresh"}"#, id: 2)
        try await server.publish("chat:refresh", "1")
        clock.advance(by: 120)
        var offsets: [Int] = []
        var refreshed = false
        while offsets.count < 3, let text = await client.receiveText() {
            let message = try #require(object(text))
            if message["push"] as? String == "refresh" {
                let fresh = try await TestServer.token("alice", lifetime: .seconds(600), now: clock.date)
                try await client.send(text: #"{"id":3,"cmd":"refresh","token":"\#(fresh)"}"#)
                try await server.publish("chat:refresh", "2")
            }
            if message["id"] as? Int == 3 {
                refreshed = (message["result"] as? [String: Any])?["expires"] != nil
                try await server.publish("chat:refresh", "3")
            }
            if message["push"] as? String == "publication" { offsets.append(message["offset"] as! Int) }
        }
        #expect(refreshed)
        #expect(offsets == [1, 2, 3])
        try await server.stop()
    }

    @Test func expiredTokenWithoutRefreshIsDisconnectedWith4502() async throws {
        let clock = ManualTokenClock()
        let server = try await TestServer.start(clock: clock) {
            $0.heartbeat.interval = .milliseconds(20)
            $0.auth.refreshGrace = .seconds(1)
        }
        let token = try await TestServer.token("alice", lifetime: .seconds(60), now: clock.date)
        let client = try await server.webSocket()
        _ = try await client.command(#"{"id":1,"cmd":"connect","token":"\#(token)"}"#, id: 1)
        clock.advance(by: 120)
        #expect(await client.nextPush("refresh") != nil)
        clock.advance(by: 5)
        #expect(await client.closeCode() == 4502)
        try await server.stop()
    }
}

extension Data {
    var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(
            of: "=", with: "")
    }
}

import SwitchboardClient
import SwitchboardCore
import Testing

/// The operator's deprecation notice: a `notice` push right after the `connect` reply of the clients it names by the
/// `sdk` their `connect` gives (protocol.md §13).
@Suite(.timeLimit(.minutes(1))) struct DeprecationNoticeTests {
    private func server(sdks: [String]) async throws -> TestServer {
        try await TestServer.start { configuration in
            configuration.deprecationNotice = DeprecationNotice(
                message: "switchboard-js 0.x stops working after the sunset: upgrade to 1.x", sunset: "2027-06-30", sdkPrefixes: sdks)
        }
    }

    @Test func aNamedClientGetsTheNoticeRightAfterItsConnectReplyOnEveryTransport() async throws {
        let server = try await server(sdks: ["switchboard-js/0."])
        let ws = try await server.webSocket()
        try await ws.send(text: #"{"id":1,"cmd":"connect","sdk":"switchboard-js/0.9.1"}"#)
        #expect(object(await ws.receiveText())?["id"] as? Int == 1)
        #expect(
            await ws.receiveText()
                == #"{"push":"notice","kind":"deprecation","message":"switchboard-js 0.x stops working after the sunset: upgrade to 1.x","sunset":"2027-06-30"}"#
        )
        // SSE: the same push on the stream after the reply.
        let sse = try await server.sse(path: "/connection/sse")
        let session = try #require(await sse.nextPush("session")?["session"] as? String)
        let accepted = try await server.http(
            "POST", "/connection/\(session)/command", body: #"{"id":1,"cmd":"connect","sdk":"switchboard-js/0.2.0"}"#)
        #expect(accepted.status == 202)
        let notice = await sse.nextPush("notice")
        #expect(notice?["sunset"] as? String == "2027-06-30")
    }

    @Test func otherClientsAndUnnamedOnesGetNothingUnlessNamed() async throws {
        let server = try await server(sdks: ["switchboard-js/0."])
        for connect in [#"{"id":1,"cmd":"connect","sdk":"switchboard-js/1.0.0"}"#, #"{"id":1,"cmd":"connect"}"#] {
            let ws = try await server.webSocket()
            try await ws.send(text: connect)
            #expect(object(await ws.receiveText())?["id"] as? Int == 1)
            // The next message is the reply to a ping, not a notice.
            try await ws.send(text: #"{"id":2,"cmd":"ping"}"#)
            #expect(await ws.receiveText() == #"{"id":2,"result":{}}"#, "\(connect)")
        }

        let forUnnamed = try await self.server(sdks: [DeprecationNotice.unnamed])
        let old = try await forUnnamed.webSocket()
        try await old.send(text: #"{"id":1,"cmd":"connect"}"#)
        _ = await old.receiveText()
        #expect(await old.nextPush("notice")?["kind"] as? String == "deprecation")
    }

    @Test func aMalformedSDKIsRefusedWith107AndTheSessionGoesOn() async throws {
        let server = try await server(sdks: [])
        let ws = try await server.webSocket()
        for bad in [#""""#, #""with space/1""#, "12", #""\#(String(repeating: "x", count: 65))""#] {
            let reply = try await ws.command(#"{"id":1,"cmd":"connect","sdk":\#(bad)}"#, id: 1)
            #expect((reply?["error"] as? [String: Any])?["code"] as? Int == 107, "\(bad)")
        }
        // Without a notice rule for it, an accepted sdk changes nothing else; with an empty list every session is told.
        try await ws.send(text: #"{"id":2,"cmd":"connect","sdk":"my-app/2"}"#)
        #expect(object(await ws.receiveText())?["id"] as? Int == 2)
        #expect(object(await ws.receiveText())?["push"] as? String == "notice")
    }
}

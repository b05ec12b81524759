import SwitchboardCore
import Testing

struct ControlCommandTests {
    @Test func eachOrderEndsOnlyTheSessionsItNamesWithItsCode() {
        let user = ControlCommand.disconnectUser("alice", reconnect: true)
        #expect(user.ends(client: "c1", user: "alice", tokenID: nil))
        #expect(!user.ends(client: "alice", user: "bob", tokenID: "alice"))
        #expect(!user.ends(client: "c1", user: nil, tokenID: nil))
        #expect(user.closeCode == .disconnectedReconnect && user.closeCode.reconnect)
        let client = ControlCommand.disconnectClient("c1", reconnect: false)
        #expect(client.ends(client: "c1", user: nil, tokenID: nil))
        #expect(!client.ends(client: "c2", user: "c1", tokenID: "c1"))
        #expect(client.closeCode == .disconnected && !client.closeCode.reconnect)
        let revoke = ControlCommand.revokeToken("t1", until: 10)
        #expect(revoke.ends(client: "c1", user: "alice", tokenID: "t1"))
        #expect(!revoke.ends(client: "t1", user: "t1", tokenID: nil))
        #expect(revoke.closeCode.rawValue == 4501 && revoke.closeCode.reason == "token revoked")
    }

    @Test func aRevocationHoldsUntilItsTimeAndTheLaterOfTwoWins() {
        var revoked = RevokedTokens()
        revoked.revoke("t1", until: 100, now: 50)
        #expect(revoked.isRevoked("t1", now: 99))
        #expect(!revoked.isRevoked("t1", now: 100))
        #expect(!revoked.isRevoked("t2", now: 50))
        revoked.revoke("t1", until: 80, now: 50)
        #expect(revoked.isRevoked("t1", now: 90), "a shorter revocation does not shorten a longer one")
        revoked.revoke("t3", until: 40, now: 50)
        #expect(!revoked.isRevoked("t3", now: 39) && revoked.count == 1, "an expired revocation is not kept")
    }

    @Test func expiredRevocationsAreDroppedOnceTheTableIsFull() {
        var revoked = RevokedTokens()
        for index in 0..<RevokedTokens.pruneAbove { revoked.revoke("old\(index)", until: 10, now: 0) }
        revoked.revoke("new", until: 100, now: 20)
        #expect(revoked.count == 1)
        #expect(revoked.isRevoked("new", now: 20))
    }
}

import NIOCore
import SwitchboardCore
import Testing

@Suite struct PresenceTableTests {
    private func member(_ client: String, _ user: String?) -> PresenceMember {
        PresenceMember(client: client, user: user, info: nil)
    }

    @Test func joiningTwiceChangesNothing() {
        var table = PresenceTable()
        let first = table.join(member("a", "alice"))
        let again = table.join(member("a", "alice"))
        #expect(first && !again)
        #expect(table.counts == PresenceCounts(clients: 1, users: 1))
    }

    @Test func usersCountDistinctAuthenticatedUsersOnly() {
        var table = PresenceTable()
        for (client, user) in [("a", "alice"), ("b", "alice"), ("c", nil), ("d", "bob")] { _ = table.join(member(client, user)) }
        #expect(table.counts == PresenceCounts(clients: 4, users: 2))
        _ = table.leave(client: "a")
        #expect(table.counts == PresenceCounts(clients: 3, users: 2))
        _ = table.leave(client: "b")
        #expect(table.counts == PresenceCounts(clients: 2, users: 1))
    }

    @Test func leavingAnUnknownClientReturnsNil() {
        var table = PresenceTable()
        #expect(table.leave(client: "ghost") == nil)
    }

    @Test func pagesFollowClientIDOrderAndEndWithoutACursor() {
        var table = PresenceTable()
        for client in ["d", "b", "a", "c", "e"] { _ = table.join(member(client, nil)) }
        let first = table.page(after: nil, limit: 2)
        #expect(first.members.map(\.client) == ["a", "b"])
        #expect(first.next == "b")
        let second = table.page(after: first.next, limit: 2)
        #expect(second.members.map(\.client) == ["c", "d"])
        let last = table.page(after: second.next, limit: 2)
        #expect(last.members.map(\.client) == ["e"])
        #expect(last.next == nil)
        #expect(last.counts.clients == 5)
    }
}

@Suite struct EphemeralEventTests {
    @Test func aSignalPushCarriesTheServerSetSender() {
        let event = EphemeralEvent.signal(
            channel: try! ChannelName(validating: "chat:x"), type: "typing", client: "c1", user: "alice", data: ByteBuffer(string: "true"))
        #expect(String(buffer: event.push) == #"{"push":"signal","channel":"chat:x","type":"typing","client":"c1","user":"alice","data":true}"#)
    }

    @Test func aJoinPushOmitsWhatIsUnknown() {
        let event = EphemeralEvent.presence(
            .join, channel: try! ChannelName(validating: "room:1"), member: PresenceMember(client: "c2", user: nil, info: nil))
        #expect(String(buffer: event.push) == #"{"push":"join","channel":"room:1","client":"c2"}"#)
    }
}

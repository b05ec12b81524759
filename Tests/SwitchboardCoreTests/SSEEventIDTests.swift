import Testing

@testable import SwitchboardCore

/// SSE event ids: one `EPOCH:OFFSET` per channel, joined by commas, empty when unknown.
struct SSEEventIDTests {
    @Test func aSingleChannelIdIsEpochColonOffset() {
        #expect(SSEEventID.encode([StreamPosition(epoch: "k3f9a", offset: 12)]) == "k3f9a:12")
    }

    @Test func severalChannelsAreJoinedByCommasInOrder() {
        let id = SSEEventID.encode([StreamPosition(epoch: "k3f9a", offset: 12), StreamPosition(epoch: "k3f9a", offset: 0)])
        #expect(id == "k3f9a:12,k3f9a:0")
    }

    @Test func anUnknownPositionIsEncodedAsAnEmptyEntry() {
        #expect(SSEEventID.encode([nil, StreamPosition(epoch: "a", offset: 1), nil]) == ",a:1,")
    }

    @Test func positionsRoundTrip() {
        let positions: [StreamPosition?] = [
            StreamPosition(epoch: "a1", offset: 0), nil, StreamPosition(epoch: "ZZ", offset: StreamPosition.maxOffset),
        ]
        #expect(SSEEventID.decode(SSEEventID.encode(positions), channelCount: 3) == positions)
    }

    @Test func aSingleChannelRoundTrips() {
        let positions: [StreamPosition?] = [StreamPosition(epoch: "e", offset: 9)]
        #expect(SSEEventID.decode(SSEEventID.encode(positions), channelCount: 1) == positions)
    }

    @Test func emptyEntriesDecodeAsUnknownPositions() {
        #expect(SSEEventID.decode(",", channelCount: 2) == [nil, nil])
        #expect(SSEEventID.decode("", channelCount: 1) == [nil])
        #expect(SSEEventID.decode("a:1,", channelCount: 2) == [StreamPosition(epoch: "a", offset: 1), nil])
    }

    @Test func anIdNamingAnotherNumberOfChannelsIsRefused() {
        #expect(SSEEventID.decode("a:1,b:2", channelCount: 1) == nil)
        #expect(SSEEventID.decode("a:1,b:2", channelCount: 3) == nil)
        #expect(SSEEventID.decode("a:1", channelCount: 2) == nil)
        #expect(SSEEventID.decode("", channelCount: 2) == nil)
    }

    @Test func garbageEntriesAreRefused() {
        for garbage in ["hello", "a:b", "a:-1", "a:1;b:2", "a-b:1", ":1", "a:", "a:1 ", "a:9007199254740992"] {
            #expect(SSEEventID.decode(garbage, channelCount: 1) == nil, "\(garbage)")
        }
    }

    @Test func oneGarbageEntryRefusesTheWholeId() {
        #expect(SSEEventID.decode("a:1,junk,b:2", channelCount: 3) == nil)
    }

    @Test func anIdLongerThanTheLimitIsRefused() {
        let entry = "a:1"
        let count = SSEEventID.maxLength / (entry.count + 1) + 1
        let id = Array(repeating: entry, count: count).joined(separator: ",")
        #expect(id.utf8.count > SSEEventID.maxLength)
        #expect(SSEEventID.decode(id, channelCount: count) == nil)
    }

    @Test func anIdOfExactlyTheLimitIsAccepted() {
        let commas = String(repeating: ",", count: SSEEventID.maxLength - 3)
        let atLimit = "e:1" + commas
        #expect(atLimit.utf8.count == SSEEventID.maxLength)
        let decoded = SSEEventID.decode(atLimit, channelCount: SSEEventID.maxLength - 2)
        #expect(decoded?.first == StreamPosition(epoch: "e", offset: 1))
        #expect(decoded?.dropFirst().allSatisfy { $0 == nil } == true)
    }

    @Test func anIdOneByteOverTheLimitIsRefused() {
        let overLimit = "e:12" + String(repeating: ",", count: SSEEventID.maxLength - 3)
        #expect(overLimit.utf8.count == SSEEventID.maxLength + 1)
        #expect(SSEEventID.decode(overLimit, channelCount: SSEEventID.maxLength - 2) == nil)
    }
}

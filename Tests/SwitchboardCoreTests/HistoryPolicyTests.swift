import NIOCore
import Testing

@testable import SwitchboardCore

/// History policy TTL conversion and epoch generation.
struct HistoryPolicyTests {
    @Test func noTTLHasNoNanoseconds() {
        #expect(HistoryPolicy(capacity: 10, ttl: nil).ttlNanoseconds == nil)
    }

    @Test func ttlConvertsToWholeNanoseconds() {
        #expect(HistoryPolicy(capacity: 10, ttl: .seconds(2)).ttlNanoseconds == 2_000_000_000)
        #expect(HistoryPolicy(capacity: 10, ttl: .milliseconds(1500)).ttlNanoseconds == 1_500_000_000)
        #expect(HistoryPolicy(capacity: 10, ttl: .nanoseconds(7)).ttlNanoseconds == 7)
    }

    @Test func aTTLTooLongForUInt64NanosecondsSaturates() {
        // history_ttl_seconds accepts any Int; 10^11 s overflows UInt64 nanoseconds and used to trap.
        #expect(HistoryPolicy(capacity: 10, ttl: .seconds(100_000_000_000)).ttlNanoseconds == UInt64.max)
        #expect(HistoryPolicy(capacity: 10, ttl: .seconds(Int64.max)).ttlNanoseconds == UInt64.max)
    }

    @Test func aSaturatedTTLNeverExpiresPublications() {
        let policy = HistoryPolicy(capacity: 10, ttl: .seconds(Int64.max))
        var window = HistoryWindow(epoch: "e", capacity: policy.capacity, ttlNanoseconds: policy.ttlNanoseconds)
        _ = window.append(PublishRequest(channel: try! ChannelName(validating: "c"), data: ByteBuffer(string: "1")), now: 0)
        window.expire(now: UInt64.max)
        #expect(window.count == 1)
    }

    @Test func generatedEpochsAreValidEightCharacterEpochs() {
        for _ in 0..<100 {
            let epoch = EpochGenerator.make()
            #expect(epoch.utf8.count == 8)
            #expect(StreamPosition.isValidEpoch(epoch[...]), "\(epoch)")
        }
    }

    @Test func aSeededGeneratorMakesTheSameEpoch() {
        var a = SplitMix(seed: 42)
        var b = SplitMix(seed: 42)
        #expect(EpochGenerator.make(using: &a) == EpochGenerator.make(using: &b))
    }
}

private struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

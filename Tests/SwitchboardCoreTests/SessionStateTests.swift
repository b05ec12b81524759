import NIOCore
import SwitchboardCore
import Testing

@Suite struct CommandQueueTests {
    @Test func commandsWaitWhileAnEngineCallIsOutstandingAndRunInOrder() {
        var queue = CommandQueue<Int>(capacity: 4)
        let queuedBoth = queue.enqueue(1) && queue.enqueue(2)
        #expect(queuedBoth)
        #expect(queue.next() == 1)
        queue.engineCallStarted()
        let queuedThird = queue.enqueue(3)
        #expect(queuedThird)
        #expect(queue.next() == nil)
        queue.engineCallFinished()
        #expect(queue.next() == 2)
        #expect(queue.next() == 3)
        #expect(queue.next() == nil)
    }

    @Test func aFullQueueRefusesWithoutLosingWhatWaits() {
        var queue = CommandQueue<Int>(capacity: 2)
        queue.engineCallStarted()
        let queuedTwo = queue.enqueue(1) && queue.enqueue(2)
        let queuedThird = queue.enqueue(3)
        #expect(queuedTwo && !queuedThird)
        queue.engineCallFinished()
        let drained = [queue.next(), queue.next(), queue.next()]
        #expect(drained == [1, 2, nil])
    }

    /// An idle connection keeps no command storage (docs/benchmarks.md: ~600 bytes per connection otherwise).
    @Test func aDrainedQueueHoldsNoStorageAndStillTakesCommands() {
        var queue = CommandQueue<Int>(capacity: 4)
        #expect(!queue.holdsStorage)
        queue.engineCallStarted()
        let queued = queue.enqueue(1) && queue.enqueue(2)
        #expect(queued && queue.holdsStorage)
        queue.engineCallFinished()
        #expect(queue.next() == 1)
        #expect(queue.holdsStorage)
        #expect(queue.next() == 2)
        #expect(!queue.holdsStorage)
        let queuedAgain = queue.enqueue(3)
        #expect(queuedAgain && queue.next() == 3 && !queue.holdsStorage)
    }
}

@Suite struct CommandDisciplineTests {
    @Test func sixteenMalformedCommandsInARowDisconnectAndAGoodOneResetsTheCount() {
        var discipline = CommandDiscipline(commandsPerSecond: 0, now: 0)
        for _ in 1..<CommandDiscipline.maxConsecutiveMalformed {
            let verdict = discipline.malformed()
            #expect(verdict == .refuse(disconnect: false))
        }
        discipline.wellFormed()
        for _ in 1..<CommandDiscipline.maxConsecutiveMalformed {
            let verdict = discipline.malformed()
            #expect(verdict == .refuse(disconnect: false))
        }
        let last = discipline.malformed()
        #expect(last == .refuse(disconnect: true))
    }

    @Test func overTheRateIsRefusedAndTwentyStrikesDisconnect() {
        var discipline = CommandDiscipline(commandsPerSecond: 1, now: 0)
        var verdicts = [discipline.admit(now: 0), discipline.admit(now: 0)]  // burst of two
        #expect(verdicts == [.accept, .accept])
        verdicts = (1..<CommandDiscipline.maxRateLimitStrikes).map { _ in discipline.admit(now: 0) }
        #expect(verdicts.allSatisfy { $0 == .refuse(disconnect: false) })
        verdicts = [discipline.admit(now: 0), discipline.admit(now: 2_000_000_000)]
        #expect(verdicts == [.refuse(disconnect: true), .accept])
    }

    /// The refill lets one command through now and then; a flood at twenty times the rate is still closed.
    @Test func aFloodThatEarnsAnOccasionalTokenIsStillDisconnected() {
        var discipline = CommandDiscipline(commandsPerSecond: 1, now: 0)
        var now: UInt64 = 0
        var verdicts: [CommandDiscipline.Verdict] = []
        while !verdicts.contains(.refuse(disconnect: true)) && verdicts.count < 100 {
            verdicts.append(discipline.admit(now: now))
            now += 50_000_000  // twenty commands per second
        }
        #expect(verdicts.contains(.refuse(disconnect: true)))
        #expect(verdicts.filter { $0 == .accept }.count > 2)  // tokens were earned on the way
    }

    /// A client slightly over the rate that slows down sheds its strikes instead of carrying them forever.
    @Test func acceptedCommandsTakeStrikesAway() {
        var discipline = CommandDiscipline(commandsPerSecond: 1, now: 0)
        var now: UInt64 = 0
        for _ in 0..<200 {
            // Two commands per second: every other one is refused, every other one accepted.
            #expect(discipline.admit(now: now) != .refuse(disconnect: true))
            now += 500_000_000
        }
    }
}

@Suite struct HeartbeatStateTests {
    private let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func aPeerThatAnswersIsPingedAfterSilenceAndTimesOutWhenItStaysSilent() {
        var state = HeartbeatState(now: start)
        let interval = TimeAmount.seconds(10)
        let timeout = TimeAmount.seconds(5)
        do {
            let action = state.check(now: start + .seconds(9), interval: interval, timeout: timeout, peerAnswers: true)
            #expect(action == .none)
        }
        do {
            let action = state.check(now: start + .seconds(10), interval: interval, timeout: timeout, peerAnswers: true)
            #expect(action == .sendHeartbeat)
        }
        do {
            let action = state.check(now: start + .seconds(14), interval: interval, timeout: timeout, peerAnswers: true)
            #expect(action == .none)
        }
        do {
            let action = state.check(now: start + .seconds(16), interval: interval, timeout: timeout, peerAnswers: true)
            #expect(action == .timedOut)
        }
    }

    @Test func inboundTrafficAnswersAndDelaysTheNextHeartbeat() {
        var state = HeartbeatState(now: start)
        do {
            let action = state.check(now: start + .seconds(10), interval: .seconds(10), timeout: .seconds(5), peerAnswers: true)
            #expect(action == .sendHeartbeat)
        }
        state.noteInbound(at: start + .seconds(12))
        do {
            let action = state.check(now: start + .seconds(20), interval: .seconds(10), timeout: .seconds(5), peerAnswers: true)
            #expect(action == .none)
        }
        do {
            let action = state.check(now: start + .seconds(22), interval: .seconds(10), timeout: .seconds(5), peerAnswers: true)
            #expect(action == .sendHeartbeat)
        }
    }

    @Test func aPeerThatNeverAnswersGetsHeartbeatsOnScheduleAndNeverTimesOut() {
        var state = HeartbeatState(now: start)
        for n in 1...3 {
            do {
                let action = state.check(now: start + .seconds(Int64(10 * n)), interval: .seconds(10), timeout: .seconds(1), peerAnswers: false)
                #expect(action == .sendHeartbeat)
            }
        }
    }
}

@Suite struct TokenExpiryWatchTests {
    @Test func anExpiredTokenIsAskedForOnceThenExpiresAfterTheGrace() {
        var watch = TokenExpiryWatch()
        do {
            let action = watch.check(now: 100, expiresAt: 100, leeway: 5, graceSeconds: 30)
            #expect(action == .none)
        }
        do {
            let action = watch.check(now: 106, expiresAt: 100, leeway: 5, graceSeconds: 30)
            #expect(action == .askForRefresh)
        }
        do {
            let action = watch.check(now: 130, expiresAt: 100, leeway: 5, graceSeconds: 30)
            #expect(action == .none)
        }
        do {
            let action = watch.check(now: 137, expiresAt: 100, leeway: 5, graceSeconds: 30)
            #expect(action == .expire)
        }
    }

    @Test func aRefreshStartsOver() {
        var watch = TokenExpiryWatch()
        do {
            let action = watch.check(now: 106, expiresAt: 100, leeway: 5, graceSeconds: 30)
            #expect(action == .askForRefresh)
        }
        watch.refreshed()
        do {
            let action = watch.check(now: 200, expiresAt: 300, leeway: 5, graceSeconds: 30)
            #expect(action == .none)
        }
        do {
            let action = watch.check(now: 306, expiresAt: 300, leeway: 5, graceSeconds: 30)
            #expect(action == .askForRefresh)
        }
    }
}

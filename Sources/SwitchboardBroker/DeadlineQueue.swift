import Dispatch
import NIOConcurrencyHelpers
import NIOCore

/// A call in flight that can be told its deadline passed.
protocol ExpiringCall: AnyObject, Sendable {
    /// Answered already: its deadline no longer matters.
    var isFinished: Bool { get }
    /// The deadline passed first: answer the call as timed out.
    func expire()
}

/// The deadlines of every call in flight through one ``DeadlineBroker``, with one timer for all of them instead of a
/// timer per call.
///
/// Every call gets the same timeout, so deadlines are set in the order they expire: a FIFO, whose answered calls are
/// dropped from the front as new ones arrive. The timer is armed for the oldest unanswered call and, while armed, is
/// not touched again, so under a steady load of quick calls it fires about once per timeout, not once per call.
///
/// `@unchecked`: the timer (a dispatch source, not marked `Sendable` in corelibs-dispatch) may be scheduled from any
/// thread; everything else is behind the lock.
final class DeadlineQueue: @unchecked Sendable {
    private struct Entry {
        var deadline: DispatchTime
        var call: any ExpiringCall
    }

    private struct State {
        var entries = CircularBuffer<Entry>()
        /// The timer is armed (for some deadline at or before the oldest unanswered call's).
        var armed = false

        mutating func dropAnsweredFront() {
            while let first = entries.first, first.call.isFinished { entries.removeFirst() }
        }
    }

    private let timeout: DispatchTimeInterval
    private let state = NIOLockedValueBox(State())
    private let timer: any DispatchSourceTimer

    init(timeout: Duration) {
        self.timeout = .nanoseconds(Self.nanoseconds(timeout))
        self.timer = DispatchSource.makeTimerSource(queue: .global())
        timer.setEventHandler { [weak self] in self?.fire() }
        timer.schedule(deadline: .distantFuture)
        timer.resume()
    }

    deinit {
        timer.setEventHandler {}
        timer.cancel()
    }

    /// Calls still queued, answered or not (tests: answered ones must not pile up).
    var count: Int { state.withLockedValue { $0.entries.count } }

    /// Puts `call` under the deadline, counted from now.
    func add(_ call: any ExpiringCall) {
        let deadline = DispatchTime.now() + timeout
        let arm = state.withLockedValue { state -> Bool in
            state.dropAnsweredFront()
            state.entries.append(Entry(deadline: deadline, call: call))
            guard !state.armed else { return false }
            state.armed = true
            return true
        }
        if arm { timer.schedule(deadline: deadline) }
    }

    /// Expires every call past its deadline and arms the timer for the next unanswered one, if any.
    private func fire() {
        let now = DispatchTime.now()
        var expired: [any ExpiringCall] = []
        let next = state.withLockedValue { state -> DispatchTime? in
            while let first = state.entries.first, first.call.isFinished || first.deadline <= now {
                state.entries.removeFirst()
                if !first.call.isFinished { expired.append(first.call) }
            }
            state.armed = !state.entries.isEmpty
            return state.entries.first?.deadline
        }
        if let next { timer.schedule(deadline: next) }
        for call in expired { call.expire() }
    }

    static func nanoseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : Int(clamping: whole) &+ Int(attoseconds / 1_000_000_000)
    }
}

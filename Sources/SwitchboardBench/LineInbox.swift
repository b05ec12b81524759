import Foundation
import NIOConcurrencyHelpers

/// Lines read from a pipe, handed to one async reader in order.
///
/// A plain thread does the blocking reads: worker pipes must not tie up the few threads of Swift's cooperative pool,
/// which the event loops' futures and the runner share.
final class LineInbox: Sendable {
    private struct State {
        var lines: [String] = []
        var waiter: CheckedContinuation<String?, Never>?
        var ended = false
    }

    private let state = NIOLockedValueBox(State())

    /// Starts reading `handle` on its own thread until end of file.
    static func reading(_ handle: FileHandle) -> LineInbox {
        let inbox = LineInbox()
        let thread = Thread {
            var buffer = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: 10) {
                    inbox.push(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                    buffer.removeSubrange(buffer.startIndex...newline)
                }
            }
            inbox.end()
        }
        thread.start()
        return inbox
    }

    func push(_ line: String) {
        let waiter = state.withLockedValue { state -> CheckedContinuation<String?, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.lines.append(line)
            return nil
        }
        waiter?.resume(returning: line)
    }

    func end() {
        let waiter = state.withLockedValue { state -> CheckedContinuation<String?, Never>? in
            state.ended = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The next line, or nil at end of file.
    func next() async -> String? {
        await withCheckedContinuation { continuation in
            let ready = state.withLockedValue { state -> String?? in
                if !state.lines.isEmpty { return .some(state.lines.removeFirst()) }
                if state.ended { return .some(nil) }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

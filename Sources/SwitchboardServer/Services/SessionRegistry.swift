import NIOConcurrencyHelpers
import NIOCore
import SwitchboardCore

/// Sessions that HTTP requests address by id: SSE streams and long-poll sessions take commands over
/// `POST /connection/{session}/command`, and long-poll sessions are read by `GET /connection/poll/{session}`.
///
/// A session stays confined to its event loop; the registry only remembers which loop that is, and requests hop there.
/// Sessions are found by their ``Session/address``, a capability of about 190 random bits known only to the client
/// that opened the session (never its client id, which other clients may see).
final class SessionRegistry: Sendable {
    private struct Entry: Sendable {
        let session: NIOLoopBound<Session>
        var loop: any EventLoop { session.eventLoop }
    }

    private let entries = NIOLockedValueBox<[String: Entry]>([:])
    /// What this node's addresses start with: its id and `-` in a cluster (``SessionForwarder``), else nothing.
    let addressPrefix: String

    init(addressPrefix: String = "") {
        self.addressPrefix = addressPrefix
    }

    /// A new session address: the prefix, then about 190 random bits.
    func newAddress() -> String { addressPrefix + SessionID.make() + SessionID.make() }

    func register(_ session: Session) {
        guard let address = session.address else { return }
        let entry = Entry(session: NIOLoopBound(session, eventLoop: session.loopHub.loop))
        entries.withLockedValue { $0[address] = entry }
    }

    func unregister(_ session: Session) {
        guard let address = session.address else { return }
        _ = entries.withLockedValue { $0.removeValue(forKey: address) }
    }

    var count: Int { entries.withLockedValue { $0.count } }

    /// Runs `body` on the session's loop; nil when no session has that address.
    func withSession<Value: Sendable>(_ address: String, _ body: @escaping @Sendable (Session) -> Value?) async -> Value? {
        guard let entry = entries.withLockedValue({ $0[address] }) else { return nil }
        return try? await entry.loop.submit { body(entry.session.value) }.get()
    }

    /// Like ``withSession(_:_:)`` for work that completes later on the loop (a parked poll).
    func withSession<Value: Sendable>(_ address: String, future body: @escaping @Sendable (Session) -> EventLoopFuture<Value>?) async -> Value? {
        guard let entry = entries.withLockedValue({ $0[address] }) else { return nil }
        let future = entry.loop.flatSubmit { () -> EventLoopFuture<Value?> in
            guard let pending = body(entry.session.value) else { return entry.loop.makeSucceededFuture(nil) }
            return pending.map { Optional($0) }
        }
        return try? await future.get()
    }

    /// Runs `body` for every registered session on its own loop (shutdown).
    func forEach(_ body: @escaping @Sendable (Session) -> Void) {
        for entry in entries.withLockedValue({ Array($0.values) }) {
            entry.loop.execute { body(entry.session.value) }
        }
    }
}

import NIOConcurrencyHelpers

/// Graceful shutdown's shared state: whether the server is draining (new streams refused, `/readyz` 503), and how
/// many sessions on handed-off connections are still open.
///
/// Hummingbird's server stops waiting for a handed-off connection once its `handle` returned, so shutdown waits on the
/// count instead (``SessionDrainService``).
final class DrainState: Sendable {
    private let drainingFlag = NIOLockedValueBox(false)
    private let openSessions = NIOLockedValueBox(0)

    var isDraining: Bool { drainingFlag.withLockedValue { $0 } }
    func startDraining() { drainingFlag.withLockedValue { $0 = true } }

    func sessionOpened() { openSessions.withLockedValue { $0 += 1 } }
    func sessionClosed() { openSessions.withLockedValue { $0 -= 1 } }
    var openSessionCount: Int { openSessions.withLockedValue { $0 } }
}

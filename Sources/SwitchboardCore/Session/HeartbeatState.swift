public import NIOCore

/// When a session owes its peer a heartbeat and when silence means the link is dead. Pure: time comes in as `now`.
public struct HeartbeatState: Sendable {
    public enum Action: Equatable, Sendable {
        case none
        /// Send a heartbeat now.
        case sendHeartbeat
        /// The peer did not answer the last heartbeat within the timeout: the link is dead.
        case timedOut
    }

    private var lastInbound: NIODeadline
    private var lastHeartbeat: NIODeadline
    private var awaitingAnswerSince: NIODeadline?

    public init(now: NIODeadline) {
        lastInbound = now
        lastHeartbeat = now
    }

    /// Anything arrived from the peer: it is alive, and any heartbeat counts as answered.
    public mutating func noteInbound(at now: NIODeadline) {
        lastInbound = now
        awaitingAnswerSince = nil
    }

    /// - Parameter peerAnswers: whether the transport's peer answers heartbeats (WebSocket pings); for one that does
    ///   not (SSE), heartbeats only keep the stream warm and inbound traffic does not delay them.
    public mutating func check(now: NIODeadline, interval: TimeAmount, timeout: TimeAmount, peerAnswers: Bool) -> Action {
        if let since = awaitingAnswerSince, now - since > timeout { return .timedOut }
        let quietSince = peerAnswers ? max(lastInbound, lastHeartbeat) : lastHeartbeat
        guard awaitingAnswerSince == nil, now - quietSince >= interval else { return .none }
        lastHeartbeat = now
        if peerAnswers { awaitingAnswerSince = now }
        return .sendHeartbeat
    }
}

/// An expired connection token gets one refresh request, then a grace period. Pure: times are Unix seconds.
public struct TokenExpiryWatch: Sendable {
    public enum Action: Equatable, Sendable {
        case none
        /// Ask the client for a fresh token (once).
        case askForRefresh
        /// The grace period passed without a refresh: end the session.
        case expire
    }

    /// When the refresh was asked for, while waiting for it.
    private var refreshRequestedAt: Int64?

    public init() {}

    public mutating func check(now: Int64, expiresAt: Int64, leeway: Int64, graceSeconds: Int64) -> Action {
        guard now > expiresAt + leeway else { return .none }
        if let asked = refreshRequestedAt { return now > asked + max(graceSeconds, 1) ? .expire : .none }
        refreshRequestedAt = now
        return .askForRefresh
    }

    /// A fresh token arrived.
    public mutating func refreshed() {
        refreshRequestedAt = nil
    }
}

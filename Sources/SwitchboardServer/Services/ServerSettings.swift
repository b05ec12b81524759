import NIOCore
import SwitchboardCore

/// The resolved configuration in the units the transports use.
///
/// A class: one instance per server, so what keeps it (every connection's stream routes, the session services) holds
/// a reference rather than its own copy of the whole configuration.
final class ServerSettings: Sendable {
    let configuration: HubConfiguration
    let heartbeat: HeartbeatSettings
    let handshakeTimeout: TimeAmount
    let drainTimeout: TimeAmount
    /// Most publications one recovery may return; beyond it the client gets a reset. History windows are bounded
    /// anyway, so this only guards against a misconfigured huge window.
    let maxRecovery: Int

    init(_ configuration: HubConfiguration) {
        self.configuration = configuration
        self.heartbeat = HeartbeatSettings(
            interval: TimeAmount(configuration.heartbeat.interval), timeout: TimeAmount(configuration.heartbeat.timeout))
        self.handshakeTimeout = TimeAmount(configuration.limits.handshakeTimeout)
        self.drainTimeout = TimeAmount(configuration.drainTimeout)
        self.maxRecovery = 100_000
    }

    var limits: HubConfiguration.Limits { configuration.limits }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

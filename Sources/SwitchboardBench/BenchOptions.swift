/// Everything one bench run needs to know; filled by the CLI, read by `BenchRunner`.
public struct BenchOptions: Sendable {
    /// Which server the bench talks to: the URLs and publish format differ.
    public enum Target: String, Sendable, CaseIterable, Codable {
        case switchboard
        case nchan
    }

    public var host = "127.0.0.1"
    public var port = 8080
    public var target = Target.switchboard
    public var apiKey = ""
    /// Subscribers over WebSocket.
    public var webSocketSubscribers = 100
    /// Subscribers over Server-Sent Events.
    public var sseSubscribers = 0
    /// Subscribers are spread round-robin over this many channels; each publication goes to one channel.
    public var channels = 1
    /// New connections opened per second while ramping up.
    public var connectRate = 2_000
    /// Publications per second (all channels together), sent on a fixed schedule (open loop).
    public var publishRate = 100
    /// Length of the publish phase in seconds.
    public var duration = 10.0
    /// Bytes of the publication `data` JSON object (sequence number and timestamp included).
    public var payloadBytes = 128
    /// After the last publication, stop once no delivery arrived for this long (or after at most 60 s).
    public var drainSeconds = 2.0
    /// Idle time after connecting, before the publish phase, to measure memory and idle CPU.
    public var settleSeconds = 1.0
    /// Longest wait for all connections to be established.
    public var connectTimeout = 30.0
    /// Event-loop threads of the bench itself.
    public var threads = 1
    /// Local addresses connections are bound to, round-robin (127.0.0.2, … give more ephemeral ports).
    public var sourceAddresses: [String] = []
    /// Server process to sample CPU time and RSS from (/proc/PID).
    public var serverPID: Int32?
    /// Print a progress line on standard error once a second.
    public var progress = true
    /// Prefix of channel names; a random suffix keeps runs apart (no history from earlier runs).
    public var channelPrefix = "bench"

    public init() {}

    public var subscribers: Int { webSocketSubscribers + sseSubscribers }
    public var publicationCount: Int { Int((Double(publishRate) * duration).rounded()) }
}

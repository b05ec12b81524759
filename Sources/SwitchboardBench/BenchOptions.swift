/// Everything one bench run needs to know; filled by the CLI, read by `BenchRunner`, and handed as JSON to worker
/// processes.
public struct BenchOptions: Sendable, Codable {
    /// Which server the bench talks to: the URLs and publish format differ.
    public enum Target: String, Sendable, CaseIterable, Codable {
        case switchboard
        case nchan
    }

    /// What the run measures.
    public enum Mode: String, Sendable, CaseIterable, Codable {
        /// Subscribers receive publications made through the HTTP API: fan-out cost, delivery latency, loss.
        case fanOut = "fan-out"
        /// Every WebSocket client publishes to its own channel and times its publications coming back: round trip
        /// through the hub.
        case echo
        /// Subscribers drop at once, publications are made while they are away, they come back at once resuming
        /// with `since`: time until all recovered, loss and duplicates.
        case reconnectStorm = "reconnect-storm"
    }

    /// How the fan-out publisher publishes.
    public enum PublishOver: String, Sendable, CaseIterable, Codable {
        /// `POST /api/publish` with the API key, pipelined on one keep-alive connection.
        case http
        /// `publish` commands on one WebSocket connection (`/connection/websocket`, `switchboard.v1.json`), as a client.
        case webSocket = "websocket"
    }

    public var host = "127.0.0.1"
    public var port = 8080
    public var target = Target.switchboard
    public var mode = Mode.fanOut
    public var apiKey = ""
    /// Subscribers over WebSocket.
    public var webSocketSubscribers = 100
    /// WebSocket subscribers offer permessage-deflate (no context takeover either way), require the server to agree,
    /// and inflate its compressed messages; their own frames stay uncompressed.
    public var deflate = false
    /// Subscribers over Server-Sent Events.
    public var sseSubscribers = 0
    /// Subscribers over long-polling (`/connection/poll`).
    public var pollSubscribers = 0
    /// Subscribers are spread round-robin over this many channels; each publication goes to one channel.
    public var channels = 1
    /// New connections opened per second while ramping up.
    public var connectRate = 2_000
    /// Fan-out: the publisher's transport (Switchboard only).
    public var publishOver = PublishOver.http
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
    /// Event-loop threads of the bench itself (per worker process).
    public var threads = 1
    /// Local addresses connections are bound to, round-robin (127.0.0.2, … give more ephemeral ports).
    public var sourceAddresses: [String] = []
    /// Server process to sample CPU time and RSS from (/proc/PID).
    public var serverPID: Int32?
    /// Print a progress line on standard error once a second.
    public var progress = true
    /// Prefix of channel names; a random suffix keeps runs apart (no history from earlier runs).
    public var channelPrefix = "bench"
    /// Reconnect storm: publications made per channel while the subscribers are away.
    public var missedPublications = 100
    /// Child processes that hold the subscribers (each has its own open-file limit); 1 = all in this process.
    public var workers = 1
    /// The binary a worker runs (`bench --worker-options …`); nil = this process's own executable.
    public var workerExecutable: String?
    /// Shared by the coordinator and its workers, so they name the same channels.
    public var runID = String(UInt64.random(in: 0..<UInt64.max), radix: 36)
    /// Set in a worker process: which share of the subscribers it holds.
    public var workerIndex: Int?
    /// Global index of this process's first subscriber (a worker's subscribers continue the channel round-robin).
    public var firstSubscriberIndex = 0

    public init() {}

    public var subscribers: Int { webSocketSubscribers + sseSubscribers + pollSubscribers }
    public var publicationCount: Int { Int((Double(publishRate) * duration).rounded()) }

    /// The options of worker `index` of `workers`: its share of every kind of subscriber and of the echo rate.
    func share(forWorker index: Int, of workers: Int) -> BenchOptions {
        func part(_ total: Int) -> Int { total / workers + (index < total % workers ? 1 : 0) }
        func before(_ total: Int) -> Int { (0..<index).reduce(0) { sum, earlier in sum + total / workers + (earlier < total % workers ? 1 : 0) } }
        var share = self
        share.webSocketSubscribers = part(webSocketSubscribers)
        share.sseSubscribers = part(sseSubscribers)
        share.pollSubscribers = part(pollSubscribers)
        share.firstSubscriberIndex = before(webSocketSubscribers) + before(sseSubscribers) + before(pollSubscribers)
        if mode == .echo, subscribers > 0 {
            share.publishRate = max(1, publishRate * share.subscribers / subscribers)
        }
        share.workers = 1
        share.workerIndex = index
        share.progress = false
        return share
    }

    /// Checks that the combination makes sense before anything connects.
    public func validated() throws -> BenchOptions {
        if mode != .fanOut && (sseSubscribers > 0 || pollSubscribers > 0) {
            throw BenchOptionError("--mode \(mode.rawValue) uses WebSocket clients only (--ws)")
        }
        if mode != .fanOut && target != .switchboard { throw BenchOptionError("--mode \(mode.rawValue) needs --target switchboard") }
        if publishOver == .webSocket && target != .switchboard {
            throw BenchOptionError(
                "--publish-over websocket needs --target switchboard (the bench publishes to Nchan with POST /pub/CHANNEL only)")
        }
        if publishOver == .webSocket && mode != .fanOut {
            throw BenchOptionError(
                "--publish-over websocket applies to --mode fan-out: echo clients publish over their own WebSocket, a reconnect storm through the HTTP API"
            )
        }
        if pollSubscribers > 0 && target != .switchboard { throw BenchOptionError("--poll needs --target switchboard") }
        if subscribers == 0 { throw BenchOptionError("no subscribers: pass --ws, --sse or --poll") }
        if deflate && webSocketSubscribers == 0 { throw BenchOptionError("--deflate applies to WebSocket subscribers: pass --ws") }
        if workers < 1 { throw BenchOptionError("--workers must be at least 1") }
        return self
    }
}

/// A bench option that cannot work, explained.
public struct BenchOptionError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

import NIOConcurrencyHelpers
public import Prometheus
import SwitchboardCore

/// The kinds of long-lived connection, as they appear in the `transport` metric label.
public enum TransportKind: String, Sendable, CaseIterable {
    case websocket
    case sse
    case rawWebSocket = "raw_websocket"
    case rawSSE = "raw_sse"
    case poll
    /// `/yjs/{room}` connections (no session: they count as connections only).
    case yjs

    /// Transports whose sessions take commands over HTTP (`POST /connection/{session}/command`).
    var takesHTTPCommands: Bool { self == .sse || self == .poll }

    /// A dense index (0..<allCases.count), for per-transport counters kept in fixed-size storage.
    var index: Int {
        switch self {
        case .websocket: 0
        case .sse: 1
        case .rawWebSocket: 2
        case .rawSSE: 3
        case .poll: 4
        case .yjs: 5
        }
    }
}

/// Why a session was closed as a slow consumer (4002), as the `reason` label says it.
enum SlowConsumerReason: String, CaseIterable {
    /// A message would have crossed `limits.outbound_queue_bytes` or `limits.outbound_queue_messages` (WebSocket, SSE).
    case outboundQueueFull = "outbound_queue_full"
    /// A long-poll session's outbox (messages not yet taken by a poll) overflowed.
    case pollOutboxFull = "poll_outbox_full"
    /// A subscription's max rate held more publications than the queue bound allows.
    case maxRateBacklogFull = "max_rate_backlog_full"
}

/// The rate limits that refuse requests, as the `limit` label names them (their configuration keys under `limits.`).
enum RateLimit: String, CaseIterable {
    case commandsPerSecond = "commands_per_second"
    case publishesPerSecondPerUser = "publishes_per_second_per_user"
    case publishesPerSecondPerChannel = "publishes_per_second_per_channel"
    case apiRequestsPerSecond = "api_requests_per_second"
    case apiKeyFailuresPerMinute = "api_key_failures_per_minute"
}

/// Every metric the server exports, registered in one Prometheus registry per server so that several servers in one
/// process (tests) never share counts. Names follow Prometheus conventions (`_total` counters, base units: seconds and
/// bytes), every family has help text (`promtool check metrics` passes), and every label has a bounded set of values:
/// transports, configured namespaces, error codes, engine operations, fixed reasons — never a channel, user or address.
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    private let connectionsOpen: [TransportKind: Gauge]
    private let connectionsAccepted: [TransportKind: Counter]
    let subscriptions: Gauge
    private let publications: [String: Counter]
    let deliveries: Counter
    let bytesOut: Counter
    private let slowConsumerDisconnects: [String: Counter]
    /// Live deliveries that skipped offsets, so history was read to fill the gap.
    let gapsFilled: Counter
    /// Live subscriptions told to reset (the engine started a new epoch, or a gap was no longer in history).
    let streamResets: Counter
    let heartbeatTimeouts: Counter
    /// Long-poll requests parked until a message arrives or their timeout passes.
    let pollsWaiting: Gauge
    /// Signals sent to the engine, and signals held back by the per-type interval (replaced by a newer one or sent
    /// when the interval ends).
    let signalsSent: Counter
    let signalsCoalesced: Counter
    /// Publications skipped on purpose: replaced in a waiting queue or held by a max rate and replaced.
    let conflated: Counter
    /// Receipt acknowledgements recorded (delivered and read).
    let receiptAcks: Counter
    /// Waiting publications moved ahead of other channels' because their channel got a high-priority one.
    let prioritized: Counter
    /// Messages sent inside multi-message WebSocket frames (batching).
    let batchedMessages: Counter
    private let errors: [Int: Counter]
    private let refusedUpgrades: Counter
    /// Largest per-session outbound queue seen, in bytes (the slow-reader bound).
    private let queuePeak: Gauge
    private let queuePeakValue = NIOLockedValueBox(0)
    /// From the hub receiving a committed publication to its write and flush to a subscriber's socket.
    let deliveryLatency: DeliveryLatencyHistogram
    private let publicationSize: ValueHistogram
    private let recoveries: [String: Counter]
    private let rateLimitRefusals: [RateLimit: Counter]
    /// Configured namespaces: the only values the `namespace` label takes besides "" (channels without one).
    private let namespaces: Set<String>
    private let namespaceGauges = NIOLockedValueBox<[String: Gauge]>([:])

    /// Engine call durations (seconds): 100 µs to 10 s, the engine call timeout's range.
    static let engineCallBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]
    /// Publication sizes (bytes of published data): 64 B to 1 MiB, doubling.
    static let publicationSizeBuckets: [Double] = (6...20).map { Double(1 << $0) }

    /// - Parameter namespaces: the configured namespace names; a channel in any other namespace is labelled `other`.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), namespaces: Set<String> = []) {
        self.registry = registry
        self.namespaces = namespaces
        func counter(_ name: String, _ labels: [(String, String)] = [], help: String) -> Counter {
            registry.makeCounter(descriptor: Self.describe(name, help), labels: labels)
        }
        func gauge(_ name: String, _ labels: [(String, String)] = [], help: String) -> Gauge {
            let gauge = registry.makeGauge(descriptor: Self.describe(name, help), labels: labels)
            gauge.set(to: 0)
            return gauge
        }
        var open: [TransportKind: Gauge] = [:]
        var accepted: [TransportKind: Counter] = [:]
        var slow: [String: Counter] = [:]
        var recoveries: [String: Counter] = [:]
        for kind in TransportKind.allCases {
            let transport = ("transport", kind.rawValue)
            open[kind] = gauge("switchboard_connections", [transport], help: "Open sessions.")
            accepted[kind] = counter("switchboard_connections_accepted_total", [transport], help: "Sessions opened.")
            for reason in SlowConsumerReason.allCases {
                slow[Self.key(kind, reason.rawValue)] = counter(
                    "switchboard_slow_consumer_disconnects_total", [transport, ("reason", reason.rawValue)],
                    help: "Sessions closed with 4002 (slow consumer), by transport and the bound that was hit.")
            }
            for outcome in ["exact", "reset"] {
                recoveries[Self.key(kind, outcome)] = counter(
                    "switchboard_recoveries_total", [transport, ("outcome", outcome)],
                    help: "Subscriptions that asked to resume from a position: recovered exactly, or told to reset.")
            }
        }
        connectionsOpen = open
        connectionsAccepted = accepted
        slowConsumerDisconnects = slow
        self.recoveries = recoveries
        subscriptions = gauge("switchboard_subscriptions", help: "Active subscriptions (all transports).")
        publications = Dictionary(
            uniqueKeysWithValues: ["api", "client"].map {
                ($0, counter("switchboard_publications_total", [("source", $0)], help: "Publications accepted by the engine, by source."))
            }
        )
        deliveries = counter("switchboard_deliveries_total", help: "Live publications written to subscribers.")
        bytesOut = counter("switchboard_delivered_bytes_total", help: "Bytes of live deliveries (measured as the JSON push size).")
        gapsFilled = counter(
            "switchboard_delivery_gaps_total", help: "Live deliveries that skipped offsets; the missing publications were read from history.")
        streamResets = counter("switchboard_stream_resets_total", help: "Live subscriptions sent a reset (new epoch, or a gap no longer in history).")
        heartbeatTimeouts = counter("switchboard_heartbeat_timeouts_total", help: "Sessions closed with 4003 (heartbeat timeout).")
        pollsWaiting = gauge("switchboard_polls_waiting", help: "Long-poll requests parked until a message arrives or their timeout passes.")
        signalsSent = counter("switchboard_signals_total", help: "Signals sent to subscribers.")
        signalsCoalesced = counter("switchboard_signals_coalesced_total", help: "Signals held back by signal_interval_ms (replaced or sent later).")
        conflated = counter(
            "switchboard_conflated_total", help: "Publications skipped on purpose: replaced in a waiting queue, or held by a max rate and replaced.")
        receiptAcks = counter("switchboard_receipt_acks_total", help: "Receipt acknowledgements recorded.")
        prioritized = counter(
            "switchboard_prioritized_total",
            help: "Waiting publications moved ahead of other channels' because their channel got a high-priority one.")
        batchedMessages = counter("switchboard_batched_messages_total", help: "Messages sent inside multi-message WebSocket frames.")
        errors = Dictionary(
            uniqueKeysWithValues: ErrorCode.all.map {
                (
                    $0.rawValue,
                    counter(
                        "switchboard_errors_total", [("code", String($0.rawValue)), ("name", $0.name)],
                        help: "Errors answered, by error code, each counted once.")
                )
            }
        )
        refusedUpgrades = counter(
            "switchboard_refused_connections_total",
            help: "Connections refused before upgrade or stream start (each also in switchboard_errors_total).")
        queuePeak = gauge("switchboard_outbound_queue_peak_bytes", help: "Largest per-session outbound queue seen, in bytes.")
        rateLimitRefusals = Dictionary(
            uniqueKeysWithValues: RateLimit.allCases.map {
                (
                    $0,
                    counter(
                        "switchboard_rate_limited_total", [("limit", $0.rawValue)],
                        help: "Requests refused by a rate limit, by the limit's key under limits.")
                )
            })
        publicationSize = registry.makeValueHistogram(
            descriptor: Self.describe("switchboard_publication_size_bytes", "Size of the data of publications accepted on this node, in bytes."),
            labels: [], buckets: Self.publicationSizeBuckets)
        deliveryLatency = DeliveryLatencyHistogram(
            name: "switchboard_delivery_latency_seconds",
            help: "From the hub receiving a committed publication to its write and flush to the subscriber's socket, per delivery.")
    }

    private static func describe(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    private static func key(_ kind: TransportKind, _ value: String) -> String { kind.rawValue + "/" + value }

    func connectionOpened(_ kind: TransportKind) {
        connectionsOpen[kind]?.increment()
        connectionsAccepted[kind]?.increment()
    }

    func connectionClosed(_ kind: TransportKind) {
        connectionsOpen[kind]?.decrement()
    }

    func published(source: String) {
        publications[source]?.increment()
    }

    func publicationAccepted(bytes: Int) {
        publicationSize.record(Double(bytes))
    }

    func error(_ code: ErrorCode) {
        errors[code.rawValue]?.increment()
    }

    func refused(_ code: ErrorCode) {
        refusedUpgrades.increment()
        error(code)
    }

    /// A request refused by `limit`; also counted as `rate_limited` in `switchboard_errors_total`.
    func rateLimited(_ limit: RateLimit) {
        rateLimitRefusals[limit]?.increment()
        error(.rateLimited)
    }

    func slowConsumerDisconnected(_ kind: TransportKind, _ reason: SlowConsumerReason) {
        slowConsumerDisconnects[Self.key(kind, reason.rawValue)]?.increment()
    }

    /// A subscription that came with a position finished its recovery read.
    func recovered(_ kind: TransportKind, exactly: Bool) {
        recoveries[Self.key(kind, exactly ? "exact" : "reset")]?.increment()
    }

    /// The subscriptions gauge of `kind` and `channel`'s namespace, made on first use (at most transports × (configured
    /// namespaces + 2) series).
    func namespaceSubscriptions(_ kind: TransportKind, _ channel: ChannelName) -> Gauge {
        let namespace = channel.namespace.map { namespaces.contains(String($0)) ? String($0) : "other" } ?? ""
        let key = Self.key(kind, namespace)
        return namespaceGauges.withLockedValue { gauges in
            if let gauge = gauges[key] { return gauge }
            let gauge = registry.makeGauge(
                descriptor: Self.describe(
                    "switchboard_namespace_subscriptions", "Active subscriptions by transport and namespace (\"\" for channels without one)."),
                labels: [("transport", kind.rawValue), ("namespace", namespace)])
            gauges[key] = gauge
            return gauge
        }
    }

    /// Times one engine call, by operation and outcome (`ok`, `failed`, `timed_out`).
    func engineCall(_ operation: String, outcome: String, duration: Duration) {
        registry.makeDurationHistogram(
            descriptor: Self.describe("switchboard_engine_call_duration_seconds", "Duration of calls into the engine, by operation and outcome."),
            labels: [("operation", operation), ("outcome", outcome)], buckets: Self.engineCallBuckets
        ).record(duration)
    }

    func observeQueue(bytes: Int) {
        let raised = queuePeakValue.withLockedValue { peak -> Bool in
            guard bytes > peak else { return false }
            peak = bytes
            return true
        }
        if raised { queuePeak.set(to: Double(bytes)) }
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> [UInt8] {
        var text = registry.emitToBuffer()
        deliveryLatency.emit(into: &text)
        return text
    }
}

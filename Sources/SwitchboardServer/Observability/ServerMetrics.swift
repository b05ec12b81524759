import CoreMetrics
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

    /// Transports whose sessions take commands over HTTP (`POST /connection/{session}/command`).
    var takesHTTPCommands: Bool { self == .sse || self == .poll }
}

/// Every metric the server exports, registered in one Prometheus registry per server so that several servers in one
/// process (tests) never share counts. Names follow Prometheus conventions (`_total` counters, base units).
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory

    private let connectionsOpen: [TransportKind: CoreMetrics.Meter]
    private let connectionsAccepted: [TransportKind: CoreMetrics.Counter]
    let subscriptions: CoreMetrics.Meter
    private let publications: [String: CoreMetrics.Counter]
    let deliveries: CoreMetrics.Counter
    let bytesOut: CoreMetrics.Counter
    let slowConsumerDisconnects: CoreMetrics.Counter
    /// Live deliveries that skipped offsets, so history was read to fill the gap.
    let gapsFilled: CoreMetrics.Counter
    /// Live subscriptions told to reset (the engine started a new epoch, or a gap was no longer in history).
    let streamResets: CoreMetrics.Counter
    let heartbeatTimeouts: CoreMetrics.Counter
    /// Long-poll requests parked until a message arrives or their timeout passes.
    let pollsWaiting: CoreMetrics.Meter
    /// Signals sent to the engine, and signals held back by the per-type interval (replaced by a newer one or sent
    /// when the interval ends).
    let signalsSent: CoreMetrics.Counter
    let signalsCoalesced: CoreMetrics.Counter
    /// Publications skipped on purpose: replaced in a waiting queue or held by a max rate and replaced.
    let conflated: CoreMetrics.Counter
    /// Receipt acknowledgements recorded (delivered and read).
    let receiptAcks: CoreMetrics.Counter
    /// Waiting publications moved ahead of other channels' because their channel got a high-priority one.
    let prioritized: CoreMetrics.Counter
    /// Messages sent inside multi-message WebSocket frames (batching).
    let batchedMessages: CoreMetrics.Counter
    private let errors: [Int: CoreMetrics.Counter]
    private let refusedUpgrades: CoreMetrics.Counter
    /// Largest per-session outbound queue seen, in bytes (the slow-reader bound).
    private let queuePeak: CoreMetrics.Meter
    private let queuePeakValue = NIOLockedValueBox(0)

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        let factory = PrometheusMetricsFactory(registry: registry)
        self.factory = factory
        var open: [TransportKind: CoreMetrics.Meter] = [:]
        var accepted: [TransportKind: CoreMetrics.Counter] = [:]
        for kind in TransportKind.allCases {
            open[kind] = CoreMetrics.Meter(label: "switchboard_connections", dimensions: [("transport", kind.rawValue)], factory: factory)
            accepted[kind] = CoreMetrics.Counter(
                label: "switchboard_connections_accepted_total", dimensions: [("transport", kind.rawValue)], factory: factory)
        }
        connectionsOpen = open
        connectionsAccepted = accepted
        subscriptions = CoreMetrics.Meter(label: "switchboard_subscriptions", factory: factory)
        publications = Dictionary(
            uniqueKeysWithValues: ["api", "client"].map {
                ($0, CoreMetrics.Counter(label: "switchboard_publications_total", dimensions: [("source", $0)], factory: factory))
            }
        )
        deliveries = CoreMetrics.Counter(label: "switchboard_deliveries_total", factory: factory)
        bytesOut = CoreMetrics.Counter(label: "switchboard_delivered_bytes_total", factory: factory)
        slowConsumerDisconnects = CoreMetrics.Counter(label: "switchboard_slow_consumer_disconnects_total", factory: factory)
        gapsFilled = CoreMetrics.Counter(label: "switchboard_delivery_gaps_total", factory: factory)
        streamResets = CoreMetrics.Counter(label: "switchboard_stream_resets_total", factory: factory)
        heartbeatTimeouts = CoreMetrics.Counter(label: "switchboard_heartbeat_timeouts_total", factory: factory)
        pollsWaiting = CoreMetrics.Meter(label: "switchboard_polls_waiting", factory: factory)
        signalsSent = CoreMetrics.Counter(label: "switchboard_signals_total", factory: factory)
        signalsCoalesced = CoreMetrics.Counter(label: "switchboard_signals_coalesced_total", factory: factory)
        conflated = CoreMetrics.Counter(label: "switchboard_conflated_total", factory: factory)
        receiptAcks = CoreMetrics.Counter(label: "switchboard_receipt_acks_total", factory: factory)
        prioritized = CoreMetrics.Counter(label: "switchboard_prioritized_total", factory: factory)
        batchedMessages = CoreMetrics.Counter(label: "switchboard_batched_messages_total", factory: factory)
        errors = Dictionary(
            uniqueKeysWithValues: ErrorCode.all.map {
                (
                    $0.rawValue,
                    CoreMetrics.Counter(
                        label: "switchboard_errors_total", dimensions: [("code", String($0.rawValue)), ("name", $0.name)], factory: factory)
                )
            }
        )
        refusedUpgrades = CoreMetrics.Counter(label: "switchboard_refused_connections_total", factory: factory)
        queuePeak = CoreMetrics.Meter(label: "switchboard_outbound_queue_peak_bytes", factory: factory)
        queuePeak.set(0)
        subscriptions.set(0)
        for meter in open.values { meter.set(0) }
    }

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

    func error(_ code: ErrorCode) {
        errors[code.rawValue]?.increment()
    }

    func refused(_ code: ErrorCode) {
        refusedUpgrades.increment()
        error(code)
    }

    func observeQueue(bytes: Int) {
        let raised = queuePeakValue.withLockedValue { peak -> Bool in
            guard bytes > peak else { return false }
            peak = bytes
            return true
        }
        if raised { queuePeak.set(bytes) }
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }
}

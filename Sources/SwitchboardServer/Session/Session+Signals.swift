import NIOCore
import SwitchboardBroker
import SwitchboardCore

/// Ephemeral signals (typing, cursors): coalesced per (channel, type) to one per interval, the latest winning.
extension Session {
    func signal(id: Int64, channel: ChannelName, type: String, data: ByteBuffer?) {
        let options: NamespaceOptions
        switch services.channels.options(for: channel) {
        case .success(let value): options = value
        case .failure(let error): return refuse(id, error)
        }
        guard options.allowSignals else { return refuse(id, ProtocolError(.signalsNotAllowed, "namespace does not take signals")) }
        guard subscriptions[channel] != nil else {
            return refuse(id, ProtocolError(.notSubscribed, "subscribe to \(channel) before sending signals to it"))
        }
        let event = EphemeralEvent.signal(channel: channel, type: type, client: self.id, user: user, data: data)
        let key = SignalGates.Key(channel: channel, type: type)
        switch live.signalGates.offer(event, key: key, now: .now(), interval: TimeAmount(options.signalInterval)) {
        case .holdUntil(let deadline):
            let session = NIOLoopBound(self, eventLoop: loopHub.loop)
            live.signalGates.setTimer(loopHub.loop.scheduleTask(deadline: deadline) { session.value.releaseSignal(key) }, for: key)
            fallthrough
        case .held:
            services.metrics.signalsCoalesced.increment()
            send(
                Pushes.reply(id: id) {
                    $0.key("coalesced"); $0.bool(true)
                })
        case .send:
            // Through the command queue, so one connection's signals reach the engine in the order sent.
            engineCallStarted()
            let broker = services.engine
            performEngineCall("signal", { try await broker.signal(event) }) { session, result in
                defer { session.engineCallFinished() }
                switch result {
                case .failure(let error):
                    session.refuse(id, error)
                case .success:
                    session.services.metrics.signalsSent.increment()
                    session.send(Pushes.reply(id: id))
                }
            }
        }
    }

    /// The interval of a gate ended: its newest held-back signal goes out now.
    private func releaseSignal(_ key: SignalGates.Key) {
        guard !isClosed, let pending = live.signalGates.release(key, now: .now()) else { return }
        let broker = services.engine
        let metrics = services.metrics
        metrics.signalsSent.increment()
        Task {
            do {
                try await broker.signal(pending)
            } catch {
                // The sender was already answered when the signal was held; a lost signal is only counted.
                metrics.error(ProtocolError(engineFailure: error, operation: "signal").code)
            }
        }
    }
}

/// One session's signal gates: per (channel, type), when the last signal went out and the newest one held back.
struct SignalGates {
    struct Key: Hashable {
        let channel: ChannelName
        let type: String
    }

    enum Decision {
        /// Send this signal now.
        case send
        /// Held back (replacing an older held one); a timer already waits for the interval's end.
        case held
        /// Held back: start a timer for `deadline`, then call ``release(_:now:)``.
        case holdUntil(NIODeadline)
    }

    private struct Gate {
        var lastSent: NIODeadline
        var pending: EphemeralEvent?
        var timer: Scheduled<Void>?
    }

    /// Distinct (channel, type) gates kept per session; idle ones are forgotten beyond this.
    static let maxGates = 256

    private var gates: [Key: Gate] = [:]

    mutating func offer(_ event: EphemeralEvent, key: Key, now: NIODeadline, interval: TimeAmount) -> Decision {
        if var gate = gates[key], now - gate.lastSent < interval {
            gate.pending = event
            let startsTimer = gate.timer == nil
            gates[key] = gate
            return startsTimer ? .holdUntil(gate.lastSent + interval) : .held
        }
        if gates.count >= Self.maxGates { gates = gates.filter { $0.value.timer != nil } }
        gates[key] = Gate(lastSent: now)
        return .send
    }

    mutating func setTimer(_ timer: Scheduled<Void>, for key: Key) {
        gates[key]?.timer = timer
    }

    /// The interval ended: the held signal to send now, if any.
    mutating func release(_ key: Key, now: NIODeadline) -> EphemeralEvent? {
        guard var gate = gates[key] else { return nil }
        gate.timer = nil
        let pending = gate.pending
        if pending != nil {
            gate.pending = nil
            gate.lastSent = now
        }
        gates[key] = gate
        return pending
    }

    mutating func cancelAll() {
        for gate in gates.values { gate.timer?.cancel() }
        gates.removeAll()
    }
}

import NIOCore
import SwitchboardCore

/// Live delivery to this session: publications (through a subscription's stream and max rate) and ephemeral events.
extension Session {
    /// Events buffered per starting subscription at most; they are ephemeral, so the excess is dropped.
    static let maxPendingEvents = 256

    /// A live publication from the hub for one of this session's subscriptions. Returns true when it was written.
    func deliver(_ publication: EncodedPublication, to subscription: Subscription) -> Bool {
        guard !isClosed else { return false }
        switch subscription.stream.receive(publication) {
        case .send(let item):
            guard subscription.pacer != nil else { return write(item, conflates: subscription.conflates) }
            return pace(item) == .written
        case .duplicate, .buffered:
            return false
        case .gap(let after):
            fillGap(publication.channel, subscription, after: after)
            return false
        case .epochChanged(let item):
            // The engine lost this channel's history (a new epoch): the client must reload, then it continues here.
            let position = StreamPosition(epoch: item.publication.epoch, offset: item.publication.offset - 1)
            announceReset(publication.channel, Recovery(outcome: .reset(.epochChanged), position: position, publications: []))
            return pace(item) == .written
        }
    }

    enum PaceOutcome {
        case written, held, failed
    }

    /// Sends a publication now, or holds it when the subscription's max rate says so.
    func pace(_ publication: EncodedPublication) -> PaceOutcome {
        let channel = publication.channel
        guard let subscription = subscriptions[channel] else { return .failed }
        guard subscription.pacer != nil else { return write(publication, conflates: subscription.conflates) ? .written : .failed }
        let key = subscription.conflates ? publication.publication.key : nil
        let now = MonotonicTime.nanoseconds()
        switch subscription.pacer!.offer(publication, key: key, now: now) {
        case .send:
            return write(publication, conflates: subscription.conflates) ? .written : .failed
        case .held(let releaseAt):
            if subscription.pacerTimer == nil {
                let session = NIOLoopBound(self, eventLoop: loopHub.loop)
                let generation = subscription.generation
                subscription.pacerTimer = loopHub.loop.scheduleTask(in: .nanoseconds(Int64(releaseAt - min(now, releaseAt)))) {
                    session.value.releaseHeld(channel, generation: generation)
                }
            }
            return .held
        case nil:
            noteSlowConsumer(.maxRateBacklogFull)
            disconnect(.slowConsumer)
            return .failed
        }
    }

    /// A max-rate slot opened: the held publications go out, after a `conflated` notice if some were replaced.
    private func releaseHeld(_ channel: ChannelName, generation: UInt64) {
        guard !isClosed, let subscription = subscriptions[channel], subscription.generation == generation else { return }
        subscription.pacerTimer = nil
        guard let released = subscription.pacer?.release(now: MonotonicTime.nanoseconds()) else { return }
        if released.skipped {
            services.metrics.conflated.increment()
            send(Pushes.conflated(channel: channel))
        }
        for publication in released.items {
            guard write(publication, conflates: subscription.conflates) else { break }
        }
    }

    private func write(_ publication: EncodedPublication, conflates: Bool) -> Bool {
        guard let transport else { return false }
        guard transport.send(publication: publication, conflates: conflates) else { return false }
        requestFlush()
        return true
    }

    /// A presence join/leave, a receipt or a signal on a subscribed channel.
    func deliver(event: EphemeralEvent) {
        guard !isClosed, let subscription = subscriptions[event.channel] else { return }
        if let target = event.targetUser {
            guard target == user else { return }
        } else if event.kind != .signal && !subscription.seesPresence {
            return
        }
        if var pending = subscription.pendingEvents {
            guard pending.count < Self.maxPendingEvents else { return }
            pending.append(event)
            subscription.pendingEvents = pending
            return
        }
        send(event.push)
    }
}

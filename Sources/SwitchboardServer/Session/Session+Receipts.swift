import SwitchboardBroker
import SwitchboardCore

/// Delivery and read receipts: a recipient's `ack`, and the publisher's `receipts` query.
extension Session {
    func acknowledge(id: Int64, channel: ChannelName, offset: UInt64, status: ReceiptRecord.Status) {
        guard let user else { return refuse(id, ProtocolError(.unauthorized, "receipts are per user: connect with a token")) }
        if let error = receiptsRefusal(channel) { return refuse(id, error) }
        engineCallStarted()
        let broker = services.engine
        performEngineCall("acknowledge", { try await broker.acknowledge(channel: channel, offset: offset, user: user, status: status) }) {
            session, result in
            defer { session.engineCallFinished() }
            switch result {
            case .failure(let error):
                session.refuse(id, error)
            case .success(false):
                session.refuse(id, Self.noReceipt(channel, offset))
            case .success(true):
                session.services.metrics.receiptAcks.increment()
                session.send(Pushes.reply(id: id))
            }
        }
    }

    func receipts(id: Int64, channel: ChannelName, offset: UInt64) {
        if let error = receiptsRefusal(channel) { return refuse(id, error) }
        engineCallStarted()
        let broker = services.engine
        performEngineCall("receipts", { try await broker.receipts(channel: channel, offset: offset) }) { session, result in
            defer { session.engineCallFinished() }
            switch result {
            case .failure(let error):
                session.refuse(id, error)
            case .success(nil):
                session.refuse(id, Self.noReceipt(channel, offset))
            case .success(let record?):
                guard record.publisher != nil, record.publisher == session.user else {
                    return session.refuse(id, ProtocolError(.receiptsDenied, "only the publisher may read these receipts"))
                }
                session.send(
                    Pushes.reply(id: id) { writer in
                        writer.key("channel"); writer.string(channel.rawValue)
                        Pushes.writeReceipts(record, offset: offset, into: &writer)
                    })
            }
        }
    }

    private func receiptsRefusal(_ channel: ChannelName) -> ProtocolError? {
        switch services.channels.options(for: channel) {
        case .failure(let error): return error
        case .success(let options): return options.receipts ? nil : ProtocolError(.receiptsNotEnabled, "namespace does not keep receipts")
        }
    }

    static func noReceipt(_ channel: ChannelName, _ offset: UInt64) -> ProtocolError {
        ProtocolError(.receiptNotFound, "no receipts for \(channel) offset \(offset): none were asked, or it left the history")
    }
}

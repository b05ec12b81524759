import SwitchboardBroker
import SwitchboardCore

/// The members of a publish result: channel, epoch, offset, and `duplicate: true` when an idempotency key made it a
/// retry of an earlier publication (whose position it carries).
enum PublishReply {
    static func write(_ result: PublishResult, into writer: inout JSONWriter) {
        let publication = result.publication
        writer.key("channel"); writer.string(publication.channel.rawValue)
        writer.key("epoch"); writer.string(publication.epoch)
        writer.key("offset"); writer.uint(publication.offset)
        if result.isDuplicate {
            writer.key("duplicate"); writer.bool(true)
        }
    }
}

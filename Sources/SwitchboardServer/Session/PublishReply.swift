import SwitchboardCore

/// The members of a publish result: channel, epoch, offset.
enum PublishReply {
    static func write(_ publication: Publication, into writer: inout JSONWriter) {
        writer.key("channel"); writer.string(publication.channel.rawValue)
        writer.key("epoch"); writer.string(publication.epoch)
        writer.key("offset"); writer.uint(publication.offset)
    }
}

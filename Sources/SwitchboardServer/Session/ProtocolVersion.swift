/// The protocol version and the WebSocket subprotocols that carry it.
enum ProtocolVersion {
    static let current = "1"
    static let jsonSubprotocol = "switchboard.v1.json"
    /// The same commands, replies and pushes as MessagePack maps in binary frames.
    static let messagePackSubprotocol = "switchboard.v1.msgpack"
    static let supportedSubprotocols = [jsonSubprotocol, messagePackSubprotocol]
}

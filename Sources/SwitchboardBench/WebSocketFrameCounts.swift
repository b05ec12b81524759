/// The WebSocket data frames the subscribers received, compressed (permessage-deflate, `--deflate`) or not, so a run
/// shows whether compression actually happened and what it saved.
public struct WebSocketFrameCounts: Sendable, Codable, Equatable {
    /// Frames of compressed messages: RSV1 set, and the continuation frames of such a message.
    public var compressed = 0
    /// Frames sent as they are: without `--deflate` all of them; with it the subscribe and publish replies and every
    /// message under the server's `websocket.compression_min_bytes`.
    public var uncompressed = 0
    /// Payload bytes of the compressed frames as they came over the wire (frame headers not included).
    public var compressedBytes = 0
    /// What those frames inflated to.
    public var inflatedBytes = 0

    public init() {}

    mutating func add(_ other: WebSocketFrameCounts) {
        compressed += other.compressed
        uncompressed += other.uncompressed
        compressedBytes += other.compressedBytes
        inflatedBytes += other.inflatedBytes
    }
}

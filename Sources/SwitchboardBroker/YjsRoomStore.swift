/// Where an engine keeps Yjs rooms' update logs (docs/yjs.md): per room, an ordered list of updates, each stored as
/// the bytes a client sent (after the server decoded it). Compaction replaces the oldest updates with their merge, so
/// a room loads in one read.
///
/// The server calls these in the order the room's log changed, one call at a time per server.
public protocol YjsRoomStore: Sendable {
    /// The room's stored updates, oldest first; empty for a room never stored. The server reads a room when its first
    /// client connects (one indexed read), off the event loops and under `engine.call_timeout_ms`.
    func loadYjsRoom(_ room: String) async throws -> [[UInt8]]
    /// Appends an update to the room's log.
    func appendYjsUpdate(_ update: [UInt8], to room: String) async throws
    /// Replaces the room's oldest `count` updates with `merged`, their merge.
    func compactYjsRoom(_ room: String, first count: Int, into merged: [UInt8]) async throws
}

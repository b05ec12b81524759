/// The `id:` of SSE events: the positions of every channel of the stream, so that the browser's automatic
/// `Last-Event-ID` resumes all of them at once.
///
/// Format: `EPOCH:OFFSET` per channel, in the order the channels were named in the URL, joined by `,`
/// (e.g. `k3f9a:12,k3f9a:0`). The raw SSE endpoint has one channel, so its id is a single `EPOCH:OFFSET`.
/// An empty entry means the channel's position was not yet known when the event was written (its subscription was
/// still starting); resuming from it starts that channel fresh.
public enum SSEEventID {
    /// Longest id accepted back in `Last-Event-ID`; longer input is garbage, not something to parse.
    public static let maxLength = 4096

    public static func encode(_ positions: [StreamPosition?]) -> String {
        var text = ""
        text.reserveCapacity(positions.count * 16)
        for (index, position) in positions.enumerated() {
            if index > 0 { text.append(",") }
            guard let position else { continue }
            text.append(position.epoch)
            text.append(":")
            text.append(String(position.offset))
        }
        return text
    }

    /// Parses an id for a stream of `channelCount` channels; nil when it is garbage or names another number of channels.
    public static func decode(_ text: String, channelCount: Int) -> [StreamPosition?]? {
        guard text.utf8.count <= maxLength else { return nil }
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == channelCount else { return nil }
        var positions: [StreamPosition?] = []
        positions.reserveCapacity(parts.count)
        for part in parts {
            if part.isEmpty {
                positions.append(nil)
                continue
            }
            guard let position = StreamPosition(parsing: part) else { return nil }
            positions.append(position)
        }
        return positions
    }
}

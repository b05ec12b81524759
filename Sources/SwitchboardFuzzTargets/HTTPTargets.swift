import Foundation
import SwitchboardCore
@_spi(Fuzzing) import SwitchboardServer

/// What arrives in a request line and headers: SSE `Last-Event-ID`, channel names, request targets.
enum HTTPTargets {
    /// A `Last-Event-ID` for a stream of 1–4 channels (the first byte says how many): what parses writes back as an
    /// id that parses to the same positions.
    static func lastEventID(_ input: Data) throws(FuzzFinding) {
        guard let control = input.first, let text = input.dropFirst().utf8Text else { return }
        let channelCount = Int(control % 4) + 1
        guard let positions = SSEEventID.decode(text, channelCount: channelCount) else { return }
        try require(positions.count == channelCount, "\(positions.count) positions for \(channelCount) channels")
        let written = SSEEventID.encode(positions)
        let again = SSEEventID.decode(written, channelCount: channelCount)
        try require(again.map { SSEEventID.encode($0) } == written, "id '\(text)' written as '\(written)' does not read back")
    }

    /// A valid name is short, ASCII, and valid again when spelled out; its namespace is what precedes the first `:`.
    static func channelName(_ input: Data) throws(FuzzFinding) {
        guard let text = input.utf8Text, let name = try? ChannelName(validating: text) else { return }
        try require(name.rawValue.utf8.count <= ChannelName.maxLength, "a name longer than the limit was accepted")
        try require(name.rawValue.utf8.allSatisfy { $0 < 0x80 && $0 > 0x20 }, "a name with a space, control or non-ASCII byte was accepted")
        try require((try? ChannelName(validating: name.description)) == name, "a valid name is not valid when spelled out")
        if let namespace = name.namespace {
            try require(name.rawValue.hasPrefix(namespace + ":"), "namespace '\(namespace)' is not the name's prefix")
        }
    }

    /// A request target (path and query, as in the request line): decoded query items hold no malformed escape, and
    /// the static-file rules never let a control character, a dotfile or `..` through.
    static func requestTarget(_ input: Data) throws(FuzzFinding) {
        guard let text = input.utf8Text else { return }
        let (path, query) = FuzzingEntryPoints.splitRequestTarget(text)
        for item in query {
            try require(String(validating: Array(item.name.utf8), as: UTF8.self) != nil, "a query name that is not UTF-8")
        }
        let decoded = FuzzingEntryPoints.percentDecode(path) ?? String(path)
        if case .servable = WebRootPath.check(decoded) {
            try require(!WebRootPath.containsControlCharacter(decoded), "a path with a control character is servable")
            // Split on the byte, as the file system does: split on Characters, "/" followed by a combining mark is
            // one grapheme and no separator (the fuzzer's first finding was that mistake in this very check).
            for segment in decoded.utf8.split(separator: UInt8(ascii: "/")) where !segment.elementsEqual(".well-known".utf8) {
                try require(segment.first != UInt8(ascii: "."), "a path with a dot segment '\(String(decoding: segment, as: UTF8.self))' is servable")
            }
        }
    }
}

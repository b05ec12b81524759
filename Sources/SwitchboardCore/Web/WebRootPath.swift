/// Decides which decoded request paths may name a static file under the web root.
///
/// Pure, so the rules are tested (and fuzzed) without a file system. A path is refused outright (400) when it holds
/// a control character: a NUL cuts the name the file system sees while the content type still comes from the whole
/// name (`/data.json%00.html` would serve JSON as HTML). It is not served (404) when a segment is a dotfile or `..`.
public enum WebRootPath {
    public enum Verdict: Equatable, Sendable {
        case servable
        /// 400: the path can never name a file honestly.
        case malformed(reason: String)
        /// 404: a hidden or escaping name.
        case hidden
    }

    public static func check(_ decodedPath: some StringProtocol) -> Verdict {
        if containsControlCharacter(decodedPath) { return .malformed(reason: "request path contains a control character") }
        for segment in decodedPath.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            // Dotfiles (`.env`, `.git`) and `..` are never served; `.well-known` is the one conventional exception.
            if segment.first == UInt8(ascii: "."), !segment.elementsEqual(".well-known".utf8) { return .hidden }
        }
        return .servable
    }

    /// U+0000–U+001F and U+007F, in the raw or the percent-decoded path.
    public static func containsControlCharacter(_ path: some StringProtocol) -> Bool {
        path.utf8.contains { $0 < 0x20 || $0 == 0x7F }
    }
}

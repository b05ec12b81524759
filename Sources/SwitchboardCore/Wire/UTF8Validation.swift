/// Strict UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF) of complete byte sequences:
/// close reasons, percent-decoded URL parts, assembled text messages.
public enum UTF8Validation {
    public static func isValid<Bytes: Sequence>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        var validator = UTF8StreamValidator()
        return validator.feed(bytes) && validator.isComplete
    }
}

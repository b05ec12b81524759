/// Why bytes that claim to be a Yjs update, a state vector or a lib0 value were refused, and where.
///
/// Every way a decoder in this module can fail is one of these codes: no input makes it trap, allocate by a count the
/// input merely claims, or recurse without bound.
public struct YjsDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong; a struct over a private enum so that codes can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case unexpectedEnd = "unexpected end of input"
            case integerOutOfRange = "integer larger than 2^53 - 1"
            case countExceedsInput = "count larger than the bytes left could hold"
            case invalidUTF8 = "string is not valid UTF-8"
            case invalidJSON = "JSON content does not parse"
            case unknownContent = "unknown item content type"
            case unknownTypeRef = "unknown shared type"
            case unknownAnyType = "unknown lib0 value type"
            case nestingTooDeep = "lib0 value nested too deeply"
            case clockOutOfRange = "clock past 2^53"
            case trailingBytes = "bytes after the end of the update"
            case inconsistentStructs = "structs of one client overlap inconsistently"
            case emptyItem = "item with no content"
            case duplicateClient = "client listed twice in one update"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The input ended inside a value (a truncated varint, a length past the buffer).
        public static let unexpectedEnd = Code(.unexpectedEnd)
        /// A varint above `Number.MAX_SAFE_INTEGER`, which JavaScript peers cannot represent exactly.
        public static let integerOutOfRange = Code(.integerOutOfRange)
        /// A count (clients, structs, entries) larger than the remaining bytes could encode, e.g. a state vector
        /// claiming 2^53 clients; refused before anything is allocated for it.
        public static let countExceedsInput = Code(.countExceedsInput)
        /// A string that is not UTF-8. Yjs would decode it with replacement characters, so the bytes stored here and
        /// the text peers see would differ; refusing keeps them the same.
        public static let invalidUTF8 = Code(.invalidUTF8)
        /// JSON, embed or format content that `JSON.parse` would throw on in every Yjs peer.
        public static let invalidJSON = Code(.invalidJSON)
        /// An item content reference other than 1–9.
        public static let unknownContent = Code(.unknownContent)
        /// A shared type reference other than 0–6.
        public static let unknownTypeRef = Code(.unknownTypeRef)
        /// A lib0 `any` value whose type byte is not one of 116–127.
        public static let unknownAnyType = Code(.unknownAnyType)
        /// A lib0 `any` value nested deeper than `Lib0Decoder.maxAnyDepth`.
        public static let nestingTooDeep = Code(.nestingTooDeep)
        /// A struct whose clock plus length passes 2^53.
        public static let clockOutOfRange = Code(.clockOutOfRange)
        /// Bytes left after the delete set; Yjs ignores them, the hub does not store them.
        public static let trailingBytes = Code(.trailingBytes)
        /// Updates whose structs for one client overlap in a way no Yjs document produces (merge cannot order them).
        public static let inconsistentStructs = Code(.inconsistentStructs)
        /// An item of length 0 (an empty string or value list), which no Yjs peer writes and none can place.
        public static let emptyItem = Code(.emptyItem)
        /// A client with two struct sections in one update: Yjs would keep only the last, silently dropping the rest.
        public static let duplicateClient = Code(.duplicateClient)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// The byte offset in the input where decoding stopped.
    public let offset: Int

    public init(_ code: Code, at offset: Int) {
        self.code = code
        self.offset = offset
    }

    public var description: String { "\(code) at byte \(offset)" }
}

/// The id of a Yjs struct: the client that made it and that client's clock at its first element.
public struct YID: Hashable, Sendable, CustomStringConvertible {
    public var client: UInt64
    public var clock: UInt64

    public init(client: UInt64, clock: UInt64) {
        self.client = client
        self.clock = clock
    }

    public var description: String { "\(client):\(clock)" }
}

/// One struct of an update, as Yjs's `LazyStructReader` yields it: a run of garbage-collected clocks, a gap (`Skip`,
/// clocks this update does not carry) or an item.
public enum YStruct: Hashable, Sendable {
    case gc(YID, length: UInt64)
    case skip(YID, length: UInt64)
    case item(YItem)

    public var id: YID {
        switch self {
        case .gc(let id, _), .skip(let id, _): id
        case .item(let item): item.id
        }
    }

    /// How many clocks the struct covers.
    public var length: UInt64 {
        switch self {
        case .gc(_, let length), .skip(_, let length): length
        case .item(let item): item.content.length
        }
    }

    /// The clock just past the struct.
    public var end: UInt64 { id.clock + length }

    public var isSkip: Bool {
        if case .skip = self { return true }
        return false
    }
}

/// Where an item without neighbours lives: a root type by name, or the type an item holds.
public enum YParent: Hashable, Sendable {
    case root(String)
    case item(YID)
}

/// An inserted run of content with the neighbours it was inserted between.
public struct YItem: Hashable, Sendable {
    public var id: YID
    /// The item to the left at insertion (`origin`), when there was one.
    public var origin: YID?
    /// The item to the right at insertion (`rightOrigin`), when there was one.
    public var rightOrigin: YID?
    /// Only written when the item has neither origin: otherwise peers find the parent through the origins.
    public var parent: YParent?
    /// The map key, for an item of a map (written only with `parent`, but its flag is kept as Yjs keeps it).
    public var parentSub: String?
    public var content: YContent

    public init(id: YID, origin: YID?, rightOrigin: YID?, parent: YParent?, parentSub: String?, content: YContent) {
        self.id = id
        self.origin = origin
        self.rightOrigin = rightOrigin
        self.parent = parent
        self.parentSub = parentSub
        self.content = content
    }
}

/// A shared type an item creates (`ContentType`), by Yjs's type reference numbers.
public enum YTypeRef: Hashable, Sendable {
    case array
    case map
    case text
    case xmlElement(name: String)
    case xmlFragment
    case xmlHook(name: String)
    case xmlText
}

/// An item's content. Values are kept as the bytes they came in (JSON text, lib0 `any` encodings, UTF-8), so the hub
/// never builds a value tree and writes back exactly what a peer wrote.
public enum YContent: Hashable, Sendable {
    /// Content that was deleted and dropped, `length` clocks of it (ref 1).
    case deleted(length: UInt64)
    /// Legacy JSON values, one JSON text each (ref 2).
    case json([[UInt8]])
    case binary([UInt8])  // ref 3
    /// Text as UTF-8; its length is counted in UTF-16 code units, as Yjs counts (ref 4).
    case string(utf8: [UInt8], utf16Count: UInt64)
    /// A rich-text embed, as JSON text (ref 5).
    case embed([UInt8])
    /// A formatting mark: attribute name and JSON value (ref 6).
    case format(key: String, value: [UInt8])
    case type(YTypeRef)  // ref 7
    /// Values, one lib0 `any` encoding each (ref 8).
    case any([[UInt8]])
    /// A subdocument: its guid and options as a lib0 `any` encoding (ref 9).
    case doc(guid: String, options: [UInt8])

    /// Yjs's content reference number, the low five bits of an item's info byte.
    public var ref: UInt8 {
        switch self {
        case .deleted: 1
        case .json: 2
        case .binary: 3
        case .string: 4
        case .embed: 5
        case .format: 6
        case .type: 7
        case .any: 8
        case .doc: 9
        }
    }

    public var length: UInt64 {
        switch self {
        case .deleted(let length): length
        case .json(let values), .any(let values): UInt64(values.count)
        case .string(_, let utf16Count): utf16Count
        case .binary, .embed, .format, .type, .doc: 1
        }
    }

    /// The content from `offset` on (`AbstractContent.splice`'s right part). Only contents longer than one can be
    /// split, and callers never split at 0 or at the end.
    func suffix(from offset: UInt64) -> YContent {
        switch self {
        case .deleted(let length): return .deleted(length: length - offset)
        case .json(let values): return .json(Array(values[Int(offset)...]))
        case .any(let values): return .any(Array(values[Int(offset)...]))
        case .string(let utf8, let utf16Count):
            return .string(utf8: UTF8Text.split(utf8, atUTF16Offset: offset).right, utf16Count: utf16Count - offset)
        case .binary, .embed, .format, .type, .doc: return self
        }
    }
}

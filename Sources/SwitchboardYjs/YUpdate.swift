import NIOCore
import SwitchboardCore

/// A Yjs update (encoding v1), decoded into its structs and delete set: what Yjs's `decodeUpdate` returns.
///
/// Structs are in the order the update lists them (per client, in increasing clock), gaps included as `.skip`.
/// Decoding checks everything a Yjs peer would throw on, and more (see `YjsDecodingError.Code`), so an update that
/// decodes here is one every peer can apply.
public struct YUpdate: Hashable, Sendable {
    public var structs: [YStruct]
    public var deleteSet: YDeleteSet

    public init(structs: [YStruct], deleteSet: YDeleteSet) {
        self.structs = structs
        self.deleteSet = deleteSet
    }

    /// Decodes a whole update; bytes left after the delete set are refused.
    public init(decoding bytes: [UInt8]) throws(YjsDecodingError) {
        var decoder = Lib0Decoder(bytes)
        try self.init(from: &decoder)
        guard decoder.remaining == 0 else { throw decoder.error(.trailingBytes) }
    }

    /// The update with no structs and no deletes (`[0, 0]`), what an empty document's state is.
    public static let emptyEncoding: [UInt8] = [0, 0]

    init(from decoder: inout Lib0Decoder) throws(YjsDecodingError) {
        var structs: [YStruct] = []
        // A client section is at least three bytes (struct count, client, clock); a struct at least two.
        let clientCount = try decoder.readCount(minimumBytesEach: 3)
        var clients = Set<UInt64>()
        for _ in 0..<clientCount {
            let structCount = try decoder.readCount(minimumBytesEach: 2)
            let position = decoder.position
            let client = try decoder.readVarUInt()
            guard clients.insert(client).inserted else { throw YjsDecodingError(.duplicateClient, at: position) }
            var clock = try decoder.readVarUInt()
            structs.reserveCapacity(structs.count + structCount)
            for _ in 0..<structCount {
                let decoded = try Self.readStruct(from: &decoder, id: YID(client: client, clock: clock))
                guard decoded.length <= Lib0Decoder.maxSafeInteger + 1 - clock else { throw decoder.error(.clockOutOfRange) }
                clock += decoded.length
                structs.append(decoded)
            }
        }
        self.structs = structs
        self.deleteSet = try YDeleteSet(from: &decoder)
    }

    private static func readStruct(from decoder: inout Lib0Decoder, id: YID) throws(YjsDecodingError) -> YStruct {
        let infoPosition = decoder.position
        let info = try decoder.readUInt8()
        if info == 10 { return .skip(id, length: try decoder.readVarUInt()) }
        guard info & 0x1F != 0 else { return .gc(id, length: try decoder.readVarUInt()) }
        let origin = info & 0x80 != 0 ? try readID(from: &decoder) : nil
        let rightOrigin = info & 0x40 != 0 ? try readID(from: &decoder) : nil
        var parent: YParent?
        var parentSub: String?
        if origin == nil && rightOrigin == nil {
            // `readParentInfo` is "varuint === 1": any other number means a parent id follows.
            parent = try decoder.readVarUInt() == 1 ? .root(try decoder.readVarString()) : .item(try readID(from: &decoder))
            if info & 0x20 != 0 { parentSub = try decoder.readVarString() }
        }
        let content = try readContent(ref: info & 0x1F, infoAt: infoPosition, from: &decoder)
        guard content.length > 0 else { throw decoder.error(.emptyItem) }
        return .item(YItem(id: id, origin: origin, rightOrigin: rightOrigin, parent: parent, parentSub: parentSub, content: content))
    }

    private static func readID(from decoder: inout Lib0Decoder) throws(YjsDecodingError) -> YID {
        YID(client: try decoder.readVarUInt(), clock: try decoder.readVarUInt())
    }

    private static func readContent(ref: UInt8, infoAt infoPosition: Int, from decoder: inout Lib0Decoder) throws(YjsDecodingError) -> YContent {
        switch ref {
        case 1: return .deleted(length: try decoder.readVarUInt())
        case 2:
            let count = try decoder.readCount()
            var values: [[UInt8]] = []
            values.reserveCapacity(count)
            for _ in 0..<count {
                let start = decoder.position
                let text = try decoder.readVarUTF8()
                // Yjs writes `undefined` (not JSON) for an undefined element and reads it back specially.
                if text != Array("undefined".utf8) { try checkJSON(text, at: start) }
                values.append(text)
            }
            return .json(values)
        case 3: return .binary(try decoder.readVarBytes())
        case 4:
            let utf8 = try decoder.readVarUTF8()
            return .string(utf8: utf8, utf16Count: UTF8Text.utf16Count(utf8))
        case 5:
            let start = decoder.position
            let text = try decoder.readVarUTF8()
            try checkJSON(text, at: start)
            return .embed(text)
        case 6:
            let key = try decoder.readVarString()
            let start = decoder.position
            let value = try decoder.readVarUTF8()
            try checkJSON(value, at: start)
            return .format(key: key, value: value)
        case 7:
            let position = decoder.position
            switch try decoder.readVarUInt() {
            case 0: return .type(.array)
            case 1: return .type(.map)
            case 2: return .type(.text)
            case 3: return .type(.xmlElement(name: try decoder.readVarString()))
            case 4: return .type(.xmlFragment)
            case 5: return .type(.xmlHook(name: try decoder.readVarString()))
            case 6: return .type(.xmlText)
            default: throw YjsDecodingError(.unknownTypeRef, at: position)
            }
        case 8:
            let count = try decoder.readCount()
            var values: [[UInt8]] = []
            values.reserveCapacity(count)
            for _ in 0..<count { values.append(try decoder.readAnyEncoding()) }
            return .any(values)
        case 9:
            let guid = try decoder.readVarString()
            return .doc(guid: guid, options: try decoder.readAnyEncoding())
        default:
            throw YjsDecodingError(.unknownContent, at: infoPosition)
        }
    }

    /// JSON content must be what `JSON.parse` accepts, or every peer that applies the update throws.
    private static func checkJSON(_ text: [UInt8], at offset: Int) throws(YjsDecodingError) {
        guard JSONCheck.isValid(text) else { throw YjsDecodingError(.invalidJSON, at: offset) }
    }

    /// The update in encoding v1, written as Yjs's lazy struct writer writes it (consecutive structs of one client in
    /// one section).
    public func encoded() -> [UInt8] {
        var writer = LazyStructWriter()
        for item in structs { writer.write(item, offset: 0) }
        return writer.finish(deleteSet: deleteSet)
    }
}

/// JSON text as `JSON.parse` accepts it (Core's scanner), nested at most `Lib0Decoder.maxAnyDepth` deep.
enum JSONCheck {
    static func isValid(_ text: [UInt8]) -> Bool {
        (try? JSONScanner.validateAndMinify(ByteBuffer(bytes: text), maxDepth: Lib0Decoder.maxAnyDepth)) != nil
    }
}

/// Yjs's `LazyStructWriter` (encoding v1): structs are written into per-client sections as they come, and the section
/// count is known only at the end.
struct LazyStructWriter {
    private var sections: [(count: UInt64, bytes: [UInt8])] = []
    private var current = Lib0Encoder()
    private var currentClient: UInt64 = 0
    private var written: UInt64 = 0

    /// `writeStructToLazyStructWriter`: the struct from `offset` on.
    mutating func write(_ struct: YStruct, offset: UInt64) {
        if written > 0 && currentClient != `struct`.id.client { flush() }
        if written == 0 {
            currentClient = `struct`.id.client
            current.writeVarUInt(`struct`.id.client)
            current.writeVarUInt(`struct`.id.clock + offset)
        }
        Self.write(`struct`, offset: offset, to: &current)
        written += 1
    }

    private mutating func flush() {
        guard written > 0 else { return }
        sections.append((written, current.bytes))
        current = Lib0Encoder()
        written = 0
    }

    /// `finishLazyStructWriting`, then the delete set.
    consuming func finish(deleteSet: YDeleteSet) -> [UInt8] {
        flush()
        var encoder = Lib0Encoder()
        encoder.writeVarUInt(UInt64(sections.count))
        for section in sections {
            encoder.writeVarUInt(section.count)
            encoder.writeBytes(section.bytes)
        }
        deleteSet.write(to: &encoder)
        return encoder.bytes
    }

    /// `GC.write`, `Skip.write`, `Item.write` (v1).
    private static func write(_ struct: YStruct, offset: UInt64, to encoder: inout Lib0Encoder) {
        switch `struct` {
        case .gc(_, let length):
            encoder.writeUInt8(0)
            encoder.writeVarUInt(length - offset)
        case .skip(_, let length):
            encoder.writeUInt8(10)
            encoder.writeVarUInt(length - offset)
        case .item(let item):
            let origin = offset > 0 ? YID(client: item.id.client, clock: item.id.clock + offset - 1) : item.origin
            var info = item.content.ref
            if origin != nil { info |= 0x80 }
            if item.rightOrigin != nil { info |= 0x40 }
            if item.parentSub != nil { info |= 0x20 }
            encoder.writeUInt8(info)
            if let origin {
                encoder.writeVarUInt(origin.client)
                encoder.writeVarUInt(origin.clock)
            }
            if let rightOrigin = item.rightOrigin {
                encoder.writeVarUInt(rightOrigin.client)
                encoder.writeVarUInt(rightOrigin.clock)
            }
            if origin == nil && item.rightOrigin == nil {
                switch item.parent {
                case .root(let name):
                    encoder.writeVarUInt(1)
                    encoder.writeVarString(name)
                case .item(let id):
                    encoder.writeVarUInt(0)
                    encoder.writeVarUInt(id.client)
                    encoder.writeVarUInt(id.clock)
                case nil:
                    // Never decoded: an item without origins always carries its parent. A struct built by hand
                    // without one is written as the root type "", which peers treat as an unknown root.
                    encoder.writeVarUInt(1)
                    encoder.writeVarString("")
                }
                if let parentSub = item.parentSub { encoder.writeVarString(parentSub) }
            }
            writeContent(item.content, offset: offset, to: &encoder)
        }
    }

    private static func writeContent(_ content: YContent, offset: UInt64, to encoder: inout Lib0Encoder) {
        switch content {
        case .deleted(let length):
            encoder.writeVarUInt(length - offset)
        case .json(let values):
            encoder.writeVarUInt(UInt64(values.count) - offset)
            for value in values[Int(offset)...] { encoder.writeVarBytes(value) }
        case .binary(let bytes):
            encoder.writeVarBytes(bytes)
        case .string(let utf8, _):
            encoder.writeVarBytes(offset == 0 ? utf8 : UTF8Text.split(utf8, atUTF16Offset: offset).right)
        case .embed(let json):
            encoder.writeVarBytes(json)
        case .format(let key, let value):
            encoder.writeVarString(key)
            encoder.writeVarBytes(value)
        case .type(let type):
            switch type {
            case .array: encoder.writeVarUInt(0)
            case .map: encoder.writeVarUInt(1)
            case .text: encoder.writeVarUInt(2)
            case .xmlElement(let name):
                encoder.writeVarUInt(3)
                encoder.writeVarString(name)
            case .xmlFragment: encoder.writeVarUInt(4)
            case .xmlHook(let name):
                encoder.writeVarUInt(5)
                encoder.writeVarString(name)
            case .xmlText: encoder.writeVarUInt(6)
            }
        case .any(let values):
            encoder.writeVarUInt(UInt64(values.count) - offset)
            for value in values[Int(offset)...] { encoder.writeBytes(value) }
        case .doc(let guid, let options):
            encoder.writeVarString(guid)
            encoder.writeBytes(options)
        }
    }
}

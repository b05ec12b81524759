/// Writes lib0's binary encoding (`lib0/encoding.js`): the counterpart of `Lib0Decoder`.
public struct Lib0Encoder: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func writeUInt8(_ value: UInt8) {
        bytes.append(value)
    }

    public mutating func writeVarUInt(_ value: UInt64) {
        var rest = value
        while rest > 0x7F {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    public mutating func writeBytes(_ raw: [UInt8]) {
        bytes.append(contentsOf: raw)
    }

    /// A varint length, then the bytes (`writeVarUint8Array`, and `writeVarString` for UTF-8).
    public mutating func writeVarBytes(_ raw: [UInt8]) {
        writeVarUInt(UInt64(raw.count))
        bytes.append(contentsOf: raw)
    }

    public mutating func writeVarString(_ string: String) {
        writeVarBytes(Array(string.utf8))
    }
}

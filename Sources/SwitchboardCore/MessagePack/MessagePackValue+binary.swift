import NIOCore

extension MessagePackValue {
    /// Turns one-member maps `{"$binary": "<base64>"}` back into binary, at any depth.
    ///
    /// Publication data is stored as JSON text; MessagePack binary that a publisher sent travels inside it in that
    /// documented form (``MessagePackTranscoder``). MessagePack subscribers get the bytes back as `bin`; JSON and SSE
    /// subscribers see the base64 object. A `$binary` member that is not valid base64 stays a map.
    public func restoringBinary() -> MessagePackValue {
        switch self {
        case .array(let elements):
            return .array(elements.map { $0.restoringBinary() })
        case .map(let entries):
            if entries.count == 1, case .string(MessagePackTranscoder.binaryKey) = entries[0].key, case .string(let text) = entries[0].value,
                let bytes = Base64.decode(text)
            {
                return .binary(bytes)
            }
            return .map(entries.map { MessagePackMapEntry(key: $0.key, value: $0.value.restoringBinary()) })
        default:
            return self
        }
    }
}

extension Base64 {
    /// Decodes standard base64 with `=` padding; nil for anything else.
    static func decode(_ text: String) -> ByteBuffer? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        var output = ByteBuffer()
        output.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            var group: UInt32 = 0
            var padding = 0
            for offset in 0..<4 {
                let byte = input[index + offset]
                let value: UInt32
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
                case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a")) + 26
                case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0")) + 52
                case UInt8(ascii: "+"): value = 62
                case UInt8(ascii: "/"): value = 63
                case UInt8(ascii: "=") where index + 4 == input.count && offset >= 2:
                    padding += 1
                    value = 0
                default: return nil
                }
                // Padding may only end the text: a digit after "=" is malformed.
                if byte != UInt8(ascii: "=") && padding > 0 { return nil }
                group = group << 6 | value
            }
            output.writeInteger(UInt8(group >> 16 & 0xFF))
            if padding < 2 { output.writeInteger(UInt8(group >> 8 & 0xFF)) }
            if padding < 1 { output.writeInteger(UInt8(group & 0xFF)) }
            index += 4
        }
        return output
    }
}

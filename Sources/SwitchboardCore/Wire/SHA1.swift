/// SHA-1 (FIPS 180-4).
///
/// Needed only to answer the WebSocket handshake (RFC 6455 `Sec-WebSocket-Accept`); SHA-1 is broken for security uses,
/// so nothing else should call this.
public struct SHA1 {
    /// Returns the 20-byte digest of `bytes`.
    public static func hash<Bytes: Sequence>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        if let digest = bytes.withContiguousStorageIfAvailable({ hash(contiguous: UnsafeRawBufferPointer($0)) }) {
            return digest
        }
        return Array(bytes).withUnsafeBytes { hash(contiguous: $0) }
    }

    private struct Words {
        var h0: UInt32 = 0x6745_2301
        var h1: UInt32 = 0xEFCD_AB89
        var h2: UInt32 = 0x98BA_DCFE
        var h3: UInt32 = 0x1032_5476
        var h4: UInt32 = 0xC3D2_E1F0
    }

    private static func hash(contiguous input: UnsafeRawBufferPointer) -> [UInt8] {
        var words = Words()
        var schedule = [UInt32](repeating: 0, count: 80)
        let fullBlocks = input.count / 64
        for block in 0..<fullBlocks {
            compress(UnsafeRawBufferPointer(rebasing: input[(block * 64)..<(block * 64 + 64)]), into: &words, schedule: &schedule)
        }
        // Padding is 0x80, zeros, then the message length in bits (big-endian), spilling into a second block when the
        // tail leaves fewer than 9 bytes free.
        let tailCount = input.count - fullBlocks * 64
        var last = [UInt8](repeating: 0, count: tailCount < 56 ? 64 : 128)
        for index in 0..<tailCount { last[index] = input[fullBlocks * 64 + index] }
        last[tailCount] = 0x80
        let bitLength = UInt64(input.count) &* 8
        for index in 0..<8 { last[last.count - 1 - index] = UInt8(truncatingIfNeeded: bitLength >> (8 * index)) }
        last.withUnsafeBytes { padded in
            for start in stride(from: 0, to: padded.count, by: 64) {
                compress(UnsafeRawBufferPointer(rebasing: padded[start..<(start + 64)]), into: &words, schedule: &schedule)
            }
        }
        var digest: [UInt8] = []
        digest.reserveCapacity(20)
        for word in [words.h0, words.h1, words.h2, words.h3, words.h4] {
            for shift in stride(from: 24, through: 0, by: -8) { digest.append(UInt8(truncatingIfNeeded: word >> shift)) }
        }
        return digest
    }

    private static func compress(_ block: UnsafeRawBufferPointer, into words: inout Words, schedule: inout [UInt32]) {
        for t in 0..<16 {
            schedule[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: t * 4, as: UInt32.self))
        }
        for t in 16..<80 {
            schedule[t] = rotateLeft(schedule[t - 3] ^ schedule[t - 8] ^ schedule[t - 14] ^ schedule[t - 16], by: 1)
        }
        var a = words.h0
        var b = words.h1
        var c = words.h2
        var d = words.h3
        var e = words.h4
        for t in 0..<80 {
            let f: UInt32
            let k: UInt32
            switch t {
            case 0..<20:
                f = (b & c) | (~b & d)
                k = 0x5A82_7999
            case 20..<40:
                f = b ^ c ^ d
                k = 0x6ED9_EBA1
            case 40..<60:
                f = (b & c) | (b & d) | (c & d)
                k = 0x8F1B_BCDC
            default:
                f = b ^ c ^ d
                k = 0xCA62_C1D6
            }
            let temp = rotateLeft(a, by: 5) &+ f &+ e &+ k &+ schedule[t]
            e = d
            d = c
            c = rotateLeft(b, by: 30)
            b = a
            a = temp
        }
        words.h0 &+= a
        words.h1 &+= b
        words.h2 &+= c
        words.h3 &+= d
        words.h4 &+= e
    }

    @inline(__always)
    private static func rotateLeft(_ value: UInt32, by count: UInt32) -> UInt32 {
        (value << count) | (value >> (32 - count))
    }
}

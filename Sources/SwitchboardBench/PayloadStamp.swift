import NIOCore

/// The publication data the bench sends and finds again: `{"seq":N,"ts":NANOS,"pad":"xxx…"}`.
///
/// Subscribers only look for the `"seq":` and `"ts":` numbers in the received bytes, so counting a delivery costs a
/// short byte scan and no JSON decoding.
enum PayloadStamp {
    /// The data object, padded with `x` to `size` bytes when it is shorter.
    static func data(sequence: Int, timestamp: UInt64, size: Int) -> String {
        let head = #"{"seq":\#(sequence),"ts":\#(timestamp),"pad":""#
        let padding = max(0, size - head.utf8.count - 2)
        return head + String(repeating: "x", count: padding) + #""}"#
    }

    static let sequenceKey: [UInt8] = Array(#""seq":"#.utf8)
    static let timestampKey: [UInt8] = Array(#""ts":"#.utf8)

    /// Sequence number and timestamp of a stamped payload inside `bytes`, or nil when it carries no stamp.
    @inline(__always)
    static func find(in bytes: UnsafeRawBufferPointer) -> (sequence: Int, timestamp: UInt64)? {
        find(in: bytes, from: 0).map { ($0.sequence, $0.timestamp) }
    }

    /// Every stamp in `bytes`, in order: a long-poll response carries a batch of publications in one body.
    @inline(__always)
    static func forEach(in bytes: UnsafeRawBufferPointer, from start: Int = 0, _ body: (_ sequence: Int, _ timestamp: UInt64) -> Void) {
        var position = start
        while let stamp = find(in: bytes, from: position) {
            body(stamp.sequence, stamp.timestamp)
            position = stamp.end
        }
    }

    /// The first stamp at or after `start`, and the index just past its timestamp.
    @inline(__always)
    static func find(in bytes: UnsafeRawBufferPointer, from start: Int) -> (sequence: Int, timestamp: UInt64, end: Int)? {
        guard let afterSequence = indexAfter(sequenceKey, in: bytes, from: start) else { return nil }
        let (sequence, end) = number(in: bytes, at: afterSequence)
        guard let afterTimestamp = indexAfter(timestampKey, in: bytes, from: end) else { return nil }
        let (timestamp, timestampEnd) = number(in: bytes, at: afterTimestamp)
        return (Int(sequence), timestamp, timestampEnd)
    }

    @inline(__always)
    static func indexAfter(_ key: [UInt8], in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        let first = key[0]
        let count = bytes.count - key.count
        var index = start
        while index <= count {
            if bytes[index] == first {
                var matched = 1
                while matched < key.count && bytes[index + matched] == key[matched] { matched += 1 }
                if matched == key.count { return index + key.count }
            }
            index += 1
        }
        return nil
    }

    @inline(__always)
    static func number(in bytes: UnsafeRawBufferPointer, at start: Int) -> (UInt64, Int) {
        var value: UInt64 = 0
        var index = start
        while index < bytes.count {
            let digit = bytes[index] &- UInt8(ascii: "0")
            if digit > 9 { break }
            value = value &* 10 &+ UInt64(digit)
            index += 1
        }
        return (value, index)
    }
}

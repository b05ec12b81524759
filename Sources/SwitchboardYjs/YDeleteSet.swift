/// The clocks an update deletes, per client, in the order Yjs keeps them (first appearance of each client).
public struct YDeleteSet: Hashable, Sendable {
    public struct Range: Hashable, Sendable {
        public var clock: UInt64
        public var length: UInt64

        public init(clock: UInt64, length: UInt64) {
            self.clock = clock
            self.length = length
        }
    }

    public struct Entry: Hashable, Sendable {
        public var client: UInt64
        public var ranges: [Range]
    }

    public private(set) var entries: [Entry] = []
    /// Where each client's entry is in `entries`, so appending stays linear in the number of clients.
    private var indexByClient: [UInt64: Int] = [:]

    public init() {}

    public var isEmpty: Bool { entries.isEmpty }

    /// Adds ranges to a client's list, as `map.setIfUndefined(ds.clients, client, …).push(…)` does.
    mutating func append(_ ranges: [Range], for client: UInt64) {
        if let index = indexByClient[client] {
            entries[index].ranges += ranges
        } else {
            indexByClient[client] = entries.count
            entries.append(Entry(client: client, ranges: ranges))
        }
    }

    /// `readDeleteSet` (V1): clients with no ranges are dropped, as Yjs drops them.
    init(from decoder: inout Lib0Decoder) throws(YjsDecodingError) {
        // A client entry is at least two bytes (client, count); a range is two (clock, length).
        let clientCount = try decoder.readCount(minimumBytesEach: 2)
        for _ in 0..<clientCount {
            let client = try decoder.readVarUInt()
            let rangeCount = try decoder.readCount(minimumBytesEach: 2)
            guard rangeCount > 0 else { continue }
            var ranges: [Range] = []
            ranges.reserveCapacity(rangeCount)
            for _ in 0..<rangeCount {
                let clock = try decoder.readVarUInt()
                let length = try decoder.readVarUInt()
                guard clock + length <= Lib0Decoder.maxSafeInteger + 1 else { throw decoder.error(.clockOutOfRange) }
                ranges.append(Range(clock: clock, length: length))
            }
            append(ranges, for: client)
        }
    }

    /// `writeDeleteSet` (V1).
    func write(to encoder: inout Lib0Encoder) {
        encoder.writeVarUInt(UInt64(entries.count))
        for entry in entries {
            encoder.writeVarUInt(entry.client)
            encoder.writeVarUInt(UInt64(entry.ranges.count))
            for range in entry.ranges {
                encoder.writeVarUInt(range.clock)
                encoder.writeVarUInt(range.length)
            }
        }
    }

    /// `mergeDeleteSets`: every client's ranges from all sets (clients in order of first appearance), sorted by clock
    /// and overlapping or adjacent ranges joined.
    public static func merged(_ sets: [YDeleteSet]) -> YDeleteSet {
        var merged = YDeleteSet()
        for set in sets {
            for entry in set.entries {
                merged.append(entry.ranges, for: entry.client)
            }
        }
        for index in merged.entries.indices {
            merged.entries[index].ranges = sortedAndJoined(merged.entries[index].ranges)
        }
        return merged
    }

    /// `sortAndMergeDeleteSet` for one client (a stable sort, as JavaScript's).
    static func sortedAndJoined(_ ranges: [Range]) -> [Range] {
        let sorted = ranges.enumerated().sorted { ($0.element.clock, $0.offset) < ($1.element.clock, $1.offset) }.map(\.element)
        var joined: [Range] = []
        joined.reserveCapacity(sorted.count)
        for range in sorted {
            if let last = joined.last, last.clock + last.length >= range.clock {
                joined[joined.count - 1].length = max(last.length, range.clock + range.length - last.clock)
            } else {
                joined.append(range)
            }
        }
        return joined
    }
}

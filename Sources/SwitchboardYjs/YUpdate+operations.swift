// The operations of Yjs's `src/utils/updates.js` (encoding v1), ported so that their output is byte for byte what
// Yjs 13.5 writes for the same input: `encodeStateVectorFromUpdate`, `diffUpdate`, `mergeUpdates`. Comments name
// the JavaScript they follow where the reason for a step is not obvious.

extension YUpdate {
    /// The state vector of the update alone (`encodeStateVectorFromUpdate`): for each client whose structs start at
    /// clock 0, the clock up to which they run without a gap. Clients in the order the update lists them.
    public var stateVector: YStateVector {
        var vector = YStateVector()
        guard let first = structs.first else { return vector }
        var currentClient = first.id.client
        var stopCounting = first.id.clock != 0
        var currentClock: UInt64 = stopCounting ? 0 : first.end
        // The first struct is looked at again in the loop, as in Yjs (a leading gap at clock 0 still stops counting).
        for item in structs {
            if item.id.client != currentClient {
                if currentClock != 0 { vector.set(currentClock, for: currentClient) }
                currentClient = item.id.client
                currentClock = 0
                stopCounting = item.id.clock != 0
            }
            if item.isSkip { stopCounting = true }
            if !stopCounting { currentClock = item.end }
        }
        if currentClock != 0 { vector.set(currentClock, for: currentClient) }
        return vector
    }

    /// What of this update a peer with `stateVector` lacks (`diffUpdate`): every client's structs from the peer's
    /// clock on, and the whole delete set.
    public func diff(against stateVector: YStateVector) -> [UInt8] {
        var writer = LazyStructWriter()
        var index = 0
        while index < structs.count {
            let current = structs[index]
            let client = current.id.client
            let known = stateVector.clock(of: client)
            if current.isSkip {
                // The first struct written for a client is never a gap.
                index += 1
                continue
            }
            if current.end > known {
                writer.write(current, offset: known > current.id.clock ? known - current.id.clock : 0)
                index += 1
                while index < structs.count && structs[index].id.client == client {
                    writer.write(structs[index], offset: 0)
                    index += 1
                }
            } else {
                while index < structs.count && structs[index].id.client == client && structs[index].end <= known {
                    index += 1
                }
            }
        }
        // Yjs reads the delete set and writes it back: empty clients were already dropped when decoding.
        return writer.finish(deleteSet: deleteSet)
    }

    /// Merges updates into one (`mergeUpdates`). One update is returned as it came, as Yjs returns it.
    public static func merge(encoded updates: [[UInt8]]) throws(YjsDecodingError) -> [UInt8] {
        if updates.count == 1 { return updates[0] }
        var decoded: [YUpdate] = []
        decoded.reserveCapacity(updates.count)
        for update in updates { decoded.append(try YUpdate(decoding: update)) }
        return try merged(decoded)
    }

    /// Merges decoded updates into one encoded update (`mergeUpdatesV2` with the v1 codecs, past its one-update
    /// shortcut). Higher client ids are written first; overlapping structs are written once; gaps become skips.
    public static func merged(_ updates: [YUpdate]) throws(YjsDecodingError) -> [UInt8] {
        var readers = updates.map { StructReader(structs: $0.structs) }
        var writer = LazyStructWriter()
        var currentWrite: YStruct?

        while true {
            readers.removeAll { $0.current == nil }
            Self.sortStably(&readers)
            guard !readers.isEmpty else { break }
            // Cannot be nil: readers without a current struct were just removed.
            let firstClient = readers[0].current!.id.client

            if var written = currentWrite {
                var candidate = readers[0].current
                var iterated = false
                // Skip what was already written (higher clients come first).
                while let next = candidate, next.end <= written.end, next.id.client >= written.id.client {
                    candidate = readers[0].advance()
                    iterated = true
                }
                guard var next = candidate, next.id.client == firstClient, !(iterated && next.id.clock > written.end) else {
                    // Another reader may hold the structs in between: sort again.
                    continue
                }
                if firstClient != written.id.client {
                    writer.write(written, offset: 0)
                    currentWrite = next
                    readers[0].advance()
                } else if written.end < next.id.clock {
                    if case .skip(let id, _) = written {
                        // Extend the gap up to the end of the next struct, as Yjs does.
                        currentWrite = .skip(id, length: next.end - id.clock)
                    } else {
                        writer.write(written, offset: 0)
                        currentWrite = .skip(YID(client: firstClient, clock: written.end), length: next.id.clock - written.end)
                    }
                } else {
                    let overlap = written.end - next.id.clock
                    if overlap > 0 {
                        if case .skip(let id, let length) = written {
                            // Prefer to shorten the gap: the other struct carries more information.
                            guard overlap <= length else { throw YjsDecodingError(.inconsistentStructs, at: 0) }
                            written = .skip(id, length: length - overlap)
                        } else {
                            next = next.sliced(from: overlap)
                        }
                    }
                    if case .gc(let id, let length) = written, case .gc(_, let nextLength) = next {
                        // Only runs of garbage merge here: Yjs's `Item.mergeWith` needs linked items.
                        currentWrite = .gc(id, length: length + nextLength)
                    } else {
                        writer.write(written, offset: 0)
                        currentWrite = next
                        readers[0].advance()
                    }
                }
            } else {
                currentWrite = readers[0].current
                readers[0].advance()
            }
            // Write on while the same reader continues the same client without a gap.
            while let next = readers[0].current, let written = currentWrite, next.id.client == firstClient,
                next.id.clock == written.end, !next.isSkip
            {
                writer.write(written, offset: 0)
                currentWrite = next
                readers[0].advance()
            }
        }
        if let currentWrite { writer.write(currentWrite, offset: 0) }
        let merged = writer.finish(deleteSet: YDeleteSet.merged(updates.map(\.deleteSet)))
        // Crafted structs (a client's structs out of order) can make Yjs's algorithm, and so this port, write one client
        // in two sections — bytes Yjs's lazy reader takes but no peer should be handed as a room's document. Such a
        // merge is refused like structs that cannot be ordered; the room keeps its updates unmerged (a fuzz finding).
        do {
            _ = try YUpdate(decoding: merged)
        } catch {
            throw YjsDecodingError(.inconsistentStructs, at: 0)
        }
        return merged
    }

    /// Yjs's order of readers: by client descending, then clock ascending. A stable insertion sort, as JavaScript's
    /// `Array.prototype.sort` is stable and the readers are nearly sorted from the last round.
    private static func sortStably(_ readers: inout [StructReader]) {
        guard readers.count > 1 else { return }
        for index in 1..<readers.count {
            let reader = readers[index]
            var position = index
            while position > 0 && Self.precedes(reader, readers[position - 1]) {
                readers[position] = readers[position - 1]
                position -= 1
            }
            readers[position] = reader
        }
    }

    private static func precedes(_ left: StructReader, _ right: StructReader) -> Bool {
        // Both have a current struct: empty readers are removed before sorting.
        let a = left.current!.id
        let b = right.current!.id
        return a.client != b.client ? a.client > b.client : a.clock < b.clock
    }
}

/// One update's structs, read in order with gaps skipped (`LazyStructReader` with `filterSkips`).
private struct StructReader {
    let structs: [YStruct]
    var index = 0

    init(structs: [YStruct]) {
        self.structs = structs
        skipGaps()
    }

    var current: YStruct? { index < structs.count ? structs[index] : nil }

    @discardableResult
    mutating func advance() -> YStruct? {
        index += 1
        skipGaps()
        return current
    }

    private mutating func skipGaps() {
        while index < structs.count && structs[index].isSkip { index += 1 }
    }
}

extension YStruct {
    /// The part of the struct from `offset` on (`sliceStruct`): an item's slice has its own left neighbour as origin.
    func sliced(from offset: UInt64) -> YStruct {
        switch self {
        case .gc(let id, let length): return .gc(YID(client: id.client, clock: id.clock + offset), length: length - offset)
        case .skip(let id, let length): return .skip(YID(client: id.client, clock: id.clock + offset), length: length - offset)
        case .item(let item):
            var slice = item
            slice.id.clock += offset
            slice.origin = YID(client: item.id.client, clock: item.id.clock + offset - 1)
            slice.content = item.content.suffix(from: offset)
            return .item(slice)
        }
    }
}

/// The same operations on encoded updates, for callers that hold bytes.
public enum YjsUpdates {
    /// `Y.mergeUpdates`.
    public static func merge(_ updates: [[UInt8]]) throws(YjsDecodingError) -> [UInt8] {
        try YUpdate.merge(encoded: updates)
    }

    /// `Y.diffUpdate`.
    public static func diff(_ update: [UInt8], against stateVector: [UInt8]) throws(YjsDecodingError) -> [UInt8] {
        let vector = try YStateVector(decoding: stateVector)
        return try YUpdate(decoding: update).diff(against: vector)
    }

    /// `Y.encodeStateVectorFromUpdate`.
    public static func stateVector(of update: [UInt8]) throws(YjsDecodingError) -> [UInt8] {
        try YUpdate(decoding: update).stateVector.encoded()
    }
}

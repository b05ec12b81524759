/// A state vector: for each client, the clock of the first struct not yet seen (`Map<client, clock>` in Yjs).
public struct YStateVector: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public var client: UInt64
        public var clock: UInt64
    }

    /// The entries in the order they were read or found (the order they are written back in).
    public private(set) var entries: [Entry] = []
    private var indexByClient: [UInt64: Int] = [:]

    public init() {}

    /// The clock known for `client`, 0 when the client is unknown.
    public func clock(of client: UInt64) -> UInt64 {
        indexByClient[client].map { entries[$0].clock } ?? 0
    }

    /// Sets a client's clock; a client set twice keeps its first place and its last clock (as a `Map` does).
    public mutating func set(_ clock: UInt64, for client: UInt64) {
        if let index = indexByClient[client] {
            entries[index].clock = clock
        } else {
            indexByClient[client] = entries.count
            entries.append(Entry(client: client, clock: clock))
        }
    }

    /// `decodeStateVector`: a count, then (client, clock) pairs. A count larger than the input could hold (a state
    /// vector claiming 2^53 clients) is refused before anything is allocated.
    public init(decoding bytes: [UInt8]) throws(YjsDecodingError) {
        var decoder = Lib0Decoder(bytes)
        let count = try decoder.readCount(minimumBytesEach: 2)
        for _ in 0..<count {
            let client = try decoder.readVarUInt()
            set(try decoder.readVarUInt(), for: client)
        }
        guard decoder.remaining == 0 else { throw decoder.error(.trailingBytes) }
    }

    /// The state vector in lib0's encoding, entries in their order.
    public func encoded() -> [UInt8] {
        var encoder = Lib0Encoder()
        encoder.writeVarUInt(UInt64(entries.count))
        for entry in entries {
            encoder.writeVarUInt(entry.client)
            encoder.writeVarUInt(entry.clock)
        }
        return encoder.bytes
    }
}

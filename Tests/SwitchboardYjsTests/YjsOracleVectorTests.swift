import SwitchboardYjs
import Testing

/// The Swift update utilities against two independent implementations on recorded editing sessions: Yjs 13.5 (whose
/// `updates.js` they port, so its outputs must match byte for byte) and pycrdt/yrs (which writes merges and state
/// vectors in its own order, so those are compared as documents and maps). Applying the Swift results in both
/// libraries is tests/yjs/test_yjs_oracles.py.
struct YjsOracleVectorTests {
    @Test func bothVectorFilesLoadWithSessions() {
        #expect(YjsVectorSession.yjs.count >= 10)
        #expect(YjsVectorSession.pycrdt.count >= 8)
    }

    /// Every update either library wrote decodes, and what the Swift side writes back decodes to the same structs.
    /// (Not always the same bytes: a map item with an origin carries a key flag Yjs itself drops when re-encoding.)
    @Test(arguments: YjsVectorSession.yjs + YjsVectorSession.pycrdt)
    func everyUpdateDecodesAndEncodesBackToTheSameStructs(_ session: YjsVectorSession) throws {
        for (index, hex) in session.updates.enumerated() {
            let decoded = try YUpdate(decoding: bytes(hex: hex))
            #expect(try YUpdate(decoding: decoded.encoded()) == decoded, "update \(index)")
        }
    }

    /// `encodeStateVectorFromUpdate`: the same bytes as Yjs; the same clocks as yrs.
    @Test(arguments: YjsVectorSession.yjs + YjsVectorSession.pycrdt)
    func stateVectorOfEachUpdateMatchesTheOracle(_ session: YjsVectorSession) throws {
        for (index, hex) in session.updates.enumerated() {
            let stateVector = try YUpdate(decoding: bytes(hex: hex)).stateVector
            let expected = try YStateVector(decoding: bytes(hex: session.state_vectors[index]))
            if session.source == "yjs" {
                #expect(stateVector.encoded() == bytes(hex: session.state_vectors[index]), "update \(index)")
            } else {
                #expect(Self.clocks(stateVector) == Self.clocks(expected), "update \(index)")
            }
        }
    }

    /// `mergeUpdates` of the whole session and of shuffled subsets: Yjs's bytes exactly.
    @Test(arguments: YjsVectorSession.yjs)
    func mergesAreByteIdenticalToYjs(_ session: YjsVectorSession) throws {
        let updates = session.updates.map { bytes(hex: $0) }
        #expect(try YjsUpdates.merge(updates) == bytes(hex: session.merged))
        for partial in session.partial_merges {
            #expect(try YjsUpdates.merge(partial.indices.map { updates[$0] }) == bytes(hex: partial.merged), "\(partial.indices)")
        }
    }

    /// A merge of yrs's updates covers the same clocks as yrs's own merge (the documents are compared by applying
    /// both in pycrdt and Yjs: tests/yjs/test_yjs_oracles.py).
    @Test(arguments: YjsVectorSession.pycrdt)
    func mergesOfPycrdtUpdatesCoverTheSameClocksAsPycrdtsMerge(_ session: YjsVectorSession) throws {
        let merged = try YjsUpdates.merge(session.updates.map { bytes(hex: $0) })
        let expected = try YStateVector(decoding: bytes(hex: session.merged_state_vector))
        #expect(Self.clocks(try YUpdate(decoding: merged).stateVector) == Self.clocks(expected))
    }

    /// `diffUpdate` of the merged session against a client's state part-way through (and against nothing).
    @Test(arguments: YjsVectorSession.yjs)
    func diffsAreByteIdenticalToYjs(_ session: YjsVectorSession) throws {
        for diff in session.diffs {
            #expect(try YjsUpdates.diff(bytes(hex: session.merged), against: bytes(hex: diff.state_vector)) == bytes(hex: diff.diff))
        }
    }

    private static func clocks(_ vector: YStateVector) -> [UInt64: UInt64] {
        Dictionary(vector.entries.map { ($0.client, $0.clock) }, uniquingKeysWith: { $1 })
    }
}

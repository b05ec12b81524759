import Foundation
import SwitchboardYjs

/// Yjs updates as `/yjs/{room}` clients send them: the update decoder and the operations the hub runs on what it
/// accepted.
enum YjsTargets {
    /// The first byte picks how the rest is read: an update (and then its state vector, a diff against it, merges), a
    /// state vector, or a y-websocket message (what `/yjs/{room}` reads first; an accepted awareness update writes
    /// back as the same bytes). An accepted update writes back as one that decodes to the same structs; the diff against its
    /// own state vector decodes; a merge decodes, and merging that with itself keeps its state vector.
    static func update(_ input: Data) throws(FuzzFinding) {
        guard let control = input.first else { return }
        let bytes = Array(input.dropFirst())
        if control & 3 == 1 {
            _ = try? YStateVector(decoding: bytes)
            return
        }
        if control & 3 == 2 {
            if case .awareness(let awareness) = try? YjsSyncMessage(decoding: bytes) {
                try require(
                    YjsSyncMessage.encodeAwareness(awareness.encoded()) == bytes, "an accepted awareness message does not write back as itself")
            }
            return
        }
        guard let update = try? YUpdate(decoding: bytes) else { return }
        let reencoded = update.encoded()
        try require((try? YUpdate(decoding: reencoded)) == update, "an accepted update does not decode back to its structs")
        let stateVector = update.stateVector
        let diff = update.diff(against: stateVector)
        try require((try? YUpdate(decoding: diff)) != nil, "the diff of an accepted update does not decode")
        // Merging can refuse structs it cannot order (`inconsistentStructs`): a refusal, not a finding.
        guard let merged = try? YjsUpdates.merge([bytes, reencoded]) else { return }
        guard let decodedMerge = try? YUpdate(decoding: merged) else { throw FuzzFinding("a merge does not decode") }
        // (The update's own state vector may differ: a gap at clock 0 counts in Yjs's rule and merging drops gaps.)
        guard let again = try? YjsUpdates.merge([merged, merged]) else { throw FuzzFinding("a merge does not merge with itself") }
        try require((try? YUpdate(decoding: again))?.stateVector == decodedMerge.stateVector, "merging a merge with itself changed its state vector")
    }
}

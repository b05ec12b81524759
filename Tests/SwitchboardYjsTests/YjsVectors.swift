import Foundation
import Testing

/// One editing session of tests/yjs/yjs_vectors.json (recorded by Yjs) or pycrdt_vectors.json (recorded by pycrdt);
/// the generators in tests/yjs describe every field.
struct YjsVectorSession: Decodable, Sendable, CustomTestStringConvertible {
    struct PartialMerge: Decodable, Sendable {
        var indices: [Int]
        var merged: String
    }

    struct Diff: Decodable, Sendable {
        var state_vector: String
        var diff: String
    }

    var name: String
    var source: String
    var updates: [String]
    var state_vectors: [String]
    var merged: String
    var merged_state_vector: String
    var partial_merges: [PartialMerge]
    var diffs: [Diff]

    var testDescription: String { "\(source): \(name)" }

    static let directory = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("tests/yjs")

    static func load(_ file: String) -> [YjsVectorSession] {
        let url = directory.appendingPathComponent(file)
        return (try? JSONDecoder().decode([YjsVectorSession].self, from: Data(contentsOf: url))) ?? []
    }

    static let yjs = load("yjs_vectors.json")
    static let pycrdt = load("pycrdt_vectors.json")
}

/// Bytes from lowercase hex, as the vector files write them.
func bytes(hex: String) -> [UInt8] {
    var result: [UInt8] = []
    result.reserveCapacity(hex.utf8.count / 2)
    var digits = hex.utf8.makeIterator()
    func nibble(_ digit: UInt8) -> UInt8 { digit <= UInt8(ascii: "9") ? digit - UInt8(ascii: "0") : digit - UInt8(ascii: "a") + 10 }
    while let high = digits.next(), let low = digits.next() {
        result.append(nibble(high) << 4 | nibble(low))
    }
    return result
}

import Foundation
import NIOCore
import SwitchboardCore
import Testing

/// One case of tests/msgpack_vectors/vectors.json, written by Python's msgpack (see generate.py there).
struct MessagePackVector: Decodable, Sendable, CustomTestStringConvertible {
    var name: String
    var json: String
    var msgpack_hex: String
    /// Binary cases: `json` is the JSON form of MessagePack binary, which JSON → MessagePack leaves as a map.
    var msgpack_to_json_only: Bool?

    var testDescription: String { name }

    var messagePack: ByteBuffer {
        var bytes = ByteBuffer()
        var digits = msgpack_hex.utf8.makeIterator()
        while let high = digits.next(), let low = digits.next() {
            bytes.writeInteger(UInt8(Self.nibble(high) << 4 | Self.nibble(low)))
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8 {
        digit <= UInt8(ascii: "9") ? digit - UInt8(ascii: "0") : digit - UInt8(ascii: "a") + 10
    }

    static let file = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("tests/msgpack_vectors/vectors.json")

    static let loaded = Result { try JSONDecoder().decode([MessagePackVector].self, from: Data(contentsOf: file)) }

    /// No cases when the file cannot be read, which vectorsFileLoadsWithEveryBoundary reports without crashing the run.
    static let all = (try? loaded.get()) ?? []
}

struct MessagePackVectorTests {
    @Test func vectorsFileLoadsWithEveryBoundary() throws {
        _ = try MessagePackVector.loaded.get()
        let names = Set(MessagePackVector.all.map(\.name))
        for expected in ["uint64 max", "int64 min", "str32 min 65536 bytes", "bin32 min 65536 bytes"] {
            #expect(names.contains(expected), "missing vector \(expected)")
        }
    }

    @Test(arguments: MessagePackVector.all.filter { $0.msgpack_to_json_only != true })
    func jsonToMessagePackMatchesPythonByteForByte(vector: MessagePackVector) throws {
        let bytes = try MessagePackTranscoder.messagePack(fromJSON: ByteBuffer(string: vector.json))
        #expect(bytes == vector.messagePack)
    }

    @Test(arguments: MessagePackVector.all)
    func decodingPythonsBytesAndEncodingAgainGivesTheSameBytes(vector: MessagePackVector) throws {
        #expect(try MessagePackValue(decoding: vector.messagePack).encoded() == vector.messagePack)
    }

    @Test(arguments: MessagePackVector.all.filter { $0.msgpack_to_json_only != true })
    func messagePackToJSONGivesAnEqualValue(vector: MessagePackVector) throws {
        // Equal values transcode to equal bytes (floats stay floats, ints stay ints), so comparing the bytes compares
        // the values without depending on how either side formats numbers.
        let text = try MessagePackTranscoder.json(fromMessagePack: vector.messagePack)
        #expect(try MessagePackTranscoder.messagePack(fromJSON: text) == vector.messagePack)
    }

    @Test(arguments: MessagePackVector.all.filter { $0.msgpack_to_json_only == true })
    func binaryToJSONMatchesTheDocumentedBase64Form(vector: MessagePackVector) throws {
        #expect(String(buffer: try MessagePackTranscoder.json(fromMessagePack: vector.messagePack)) == vector.json)
    }
}

import Foundation
import NIOCore
import SwitchboardCore

/// Command and publication payloads: the JSON scanner, the command decoder and the MessagePack transcoder.
enum JSONTargets {
    /// Minifying is idempotent, and whatever is accepted as JSON is accepted the same way twice.
    static func json(_ input: Data) throws(FuzzFinding) {
        let bytes = ByteBuffer(bytes: input)
        guard let minified = try? JSONScanner.validateAndMinify(bytes) else { return }
        let again = try? JSONScanner.validateAndMinify(minified)
        try require(again == minified, "minified JSON does not minify to itself")
        switch JSONScanner.kind(of: minified) {
        case .object:
            let members = try? JSONScanner.objectMembers(minified)
            try require(members != nil, "a JSON object whose members cannot be read")
        case .array:
            let elements = try? JSONScanner.arrayElements(minified)
            try require(elements != nil, "a JSON array whose elements cannot be read")
        default:
            break
        }
    }

    /// Any text is a command or a refusal; MessagePack input goes through the transcoder first, as on the wire.
    static func command(_ input: Data) throws(FuzzFinding) {
        let bytes = ByteBuffer(bytes: input)
        _ = CommandDecoder.decode(bytes)
        if let json = try? MessagePackTranscoder.json(fromMessagePack: bytes) { _ = CommandDecoder.decode(json) }
    }

    /// Accepted MessagePack becomes minified JSON that the scanner accepts unchanged, and one more round trip through
    /// MessagePack gives the same JSON text.
    static func messagePack(_ input: Data) throws(FuzzFinding) {
        guard let json = try? MessagePackTranscoder.json(fromMessagePack: ByteBuffer(bytes: input)) else { return }
        let minified = try? JSONScanner.validateAndMinify(json)
        try require(minified == json, "transcoded JSON is not valid minified JSON: \(String(buffer: json).prefix(200))")
        guard let packed = try? MessagePackTranscoder.messagePack(fromJSON: json) else {
            throw FuzzFinding("transcoded JSON does not transcode back: \(String(buffer: json).prefix(200))")
        }
        let again = try? MessagePackTranscoder.json(fromMessagePack: packed)
        try require(again == json, "JSON → MessagePack → JSON changed the text: \(String(buffer: json).prefix(200))")
    }
}

import ArgumentParser
import SwitchboardYjs

/// `switchboard yjs …`: the hub's Yjs update utilities on hex arguments, for scripts and for checking them against
/// other implementations (tests/yjs/test_yjs_oracles.py runs them and applies the results in Yjs and pycrdt).
struct Yjs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Yjs update utilities (encoding v1) on hex input: merge, diff, state-vector.",
        subcommands: [Merge.self, Diff.self, StateVector.self]
    )

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Merge updates into one (Y.mergeUpdates); prints it as hex.")

        @Argument(help: "Updates, hex.") var updates: [String]

        func run() throws {
            Output.line(hex(try YjsUpdates.merge(try updates.map(parseHex))))
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What a peer with STATE_VECTOR lacks of UPDATE (Y.diffUpdate); prints it as hex.")

        @Argument(help: "The update, hex.") var update: String
        @Argument(help: "The peer's state vector, hex.") var stateVector: String

        func run() throws {
            Output.line(hex(try YjsUpdates.diff(try parseHex(update), against: try parseHex(stateVector))))
        }
    }

    struct StateVector: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "state-vector", abstract: "The state vector of an update (Y.encodeStateVectorFromUpdate); prints it as hex.")

        @Argument(help: "The update, hex.") var update: String

        func run() throws {
            Output.line(hex(try YjsUpdates.stateVector(of: try parseHex(update))))
        }
    }
}

private func parseHex(_ text: String) throws -> [UInt8] {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { throw ValidationError("hex input has an odd number of digits") }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(digits.count / 2)
    for index in stride(from: 0, to: digits.count, by: 2) {
        guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else {
            throw ValidationError("not hex: \(text.prefix(40))")
        }
        bytes.append(high << 4 | low)
    }
    return bytes
}

private func nibble(_ digit: UInt8) -> UInt8? {
    switch digit {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
    default: nil
    }
}

private func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: text, as: UTF8.self)
}

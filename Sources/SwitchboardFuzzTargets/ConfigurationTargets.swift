import Foundation
import SwitchboardCore
import SwitchboardServer

/// What the server reads from disk: the YAML configuration file, and records a durable engine stored.
enum ConfigurationTargets {
    /// A configuration file: read into keys and resolved over the defaults, or refused with an error that names
    /// the file; never a crash, whatever the YAML (anchors, deep nesting, huge numbers).
    static func yaml(_ input: Data) throws(FuzzFinding) {
        guard let text = input.utf8Text else { return }
        let layer: ConfigurationLayer
        do {
            layer = try ConfigurationFile.layer(fromYAML: text, source: "fuzz.yaml")
        } catch {
            try require(error.source == "fuzz.yaml", "a configuration error that does not name its file: \(error)")
            return
        }
        _ = try? ConfigurationResolver.resolve([layer])
    }

    /// A stored receipt record (JSON in the durable engines' receipts column): what decodes encodes and decodes to the
    /// same record, so a restart reads back what was written.
    static func storedReceipt(_ input: Data) throws(FuzzFinding) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys  // dictionaries have no order of their own
        guard let record = try? JSONDecoder().decode(ReceiptRecord.self, from: input) else { return }
        guard let encoded = try? encoder.encode(record) else { throw FuzzFinding("a decoded receipt record does not encode") }
        let again = try? JSONDecoder().decode(ReceiptRecord.self, from: encoded)
        let reencoded = again.flatMap { try? encoder.encode($0) }
        try require(reencoded == encoded, "a receipt record changes across encode and decode")
    }
}

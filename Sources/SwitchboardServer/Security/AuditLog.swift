import Foundation
import NIOConcurrencyHelpers
import SwitchboardCore

/// Security-relevant events as JSON lines: connections, disconnects with reasons, auth failures, permission denials,
/// limit hits and API calls — with user id and remote address, never a token.
final class AuditLog: Sendable {
    private let sink: NIOLockedValueBox<FileHandle?>

    /// - Parameter destination: "" (off), "stderr", "stdout" or a file path (appended).
    init(destination: String) throws {
        switch destination {
        case "": sink = NIOLockedValueBox(nil)
        case "stderr": sink = NIOLockedValueBox(FileHandle.standardError)
        case "stdout": sink = NIOLockedValueBox(FileHandle.standardOutput)
        default:
            if !FileManager.default.fileExists(atPath: destination) {
                guard FileManager.default.createFile(atPath: destination, contents: nil) else {
                    throw ServerSetupError(key: "audit.log", reason: "cannot create \(destination)")
                }
            }
            guard let handle = FileHandle(forWritingAtPath: destination) else {
                throw ServerSetupError(key: "audit.log", reason: "cannot open \(destination) for writing")
            }
            handle.seekToEndOfFile()
            sink = NIOLockedValueBox(handle)
        }
    }

    var isEnabled: Bool { sink.withLockedValue { $0 != nil } }

    /// Writes `{"ts":…,"event":…, fields…}`; fields with nil values are left out.
    func record(_ event: String, _ fields: KeyValuePairs<String, String?>) {
        guard isEnabled else { return }
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("ts"); writer.string(ISO8601DateFormatter().string(from: Date()))
        writer.key("event"); writer.string(event)
        for (key, value) in fields {
            guard let value else { continue }
            writer.key(key); writer.string(value)
        }
        writer.endObject()
        var line = writer.buffer
        line.writeString("\n")
        let data = Data(line.readableBytesView)
        sink.withLockedValue { $0?.write(data) }
    }
}

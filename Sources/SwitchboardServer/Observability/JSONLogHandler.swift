public import Logging
import NIOConcurrencyHelpers
import NIOCore
import SwitchboardCore

#if canImport(Glibc)
    import Glibc

    private let systemWrite = Glibc.write
#elseif canImport(Darwin)
    import Darwin

    private let systemWrite = Darwin.write
#endif

/// A swift-log handler that writes each event as one JSON object per line (`log.format: json`):
/// `{"ts":"2026-12-07T11:22:41.123Z","level":"info","label":"switchboard","message":"connection opened",…}` with the
/// logger's and the event's metadata as further string keys (nested metadata as JSON objects and arrays).
///
/// Lines go out whole, one `write(2)` each under a process-wide lock, so lines from several threads never interleave.
/// What goes into metadata is the caller's responsibility: the server never puts a token or API key there.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let output: Output

    /// Where lines go: standard error in the server, a closure in tests.
    public struct Output: Sendable {
        let write: @Sendable ([UInt8]) -> Void

        public static let standardError = Output { bytes in
            standardErrorLock.withLock {
                bytes.withUnsafeBufferPointer { pointer in
                    var offset = 0
                    while offset < pointer.count {
                        let written = systemWrite(2, pointer.baseAddress! + offset, pointer.count - offset)
                        guard written > 0 else { return }
                        offset += written
                    }
                }
            }
        }

        public static func custom(_ write: @escaping @Sendable ([UInt8]) -> Void) -> Output { Output(write: write) }
    }

    private static let standardErrorLock = NIOLock()

    public init(label: String, output: Output = .standardError, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.output = output
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let own = event.metadata { fields.merge(own) { _, new in new } }
        output.write(Self.line(time: Self.now(), level: event.level, label: label, message: event.message.description, metadata: fields))
    }

    /// One line: the fixed keys first, then the metadata sorted by key (stable lines are easier to read and to test).
    static func line(time: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.beginObject()
        writer.field("ts", string: time)
        writer.field("level", string: level.rawValue)
        writer.field("label", string: label)
        writer.field("message", string: message)
        for key in metadata.keys.sorted() where !["ts", "level", "label", "message"].contains(key) {
            writer.key(key)
            write(metadata[key]!, into: &writer)
        }
        writer.endObject()
        var buffer = writer.buffer
        buffer.writeString("\n")
        return Array(buffer.readableBytesView)
    }

    private static func write(_ value: Logger.Metadata.Value, into writer: inout JSONWriter) {
        switch value {
        case .string(let string): writer.string(string)
        case .stringConvertible(let convertible): writer.string(convertible.description)
        case .array(let values):
            writer.beginArray()
            for value in values { write(value, into: &writer) }
            writer.endArray()
        case .dictionary(let dictionary):
            writer.beginObject()
            for key in dictionary.keys.sorted() {
                writer.key(key)
                write(dictionary[key]!, into: &writer)
            }
            writer.endObject()
        }
    }

    /// UTC, millisecond precision, ISO 8601 (`2026-12-07T11:22:41.123Z`), without a formatter object per line.
    static func now() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        var seconds = time_t(time.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let milliseconds = Int(time.tv_nsec / 1_000_000)
        let fraction = milliseconds < 10 ? "00\(milliseconds)" : milliseconds < 100 ? "0\(milliseconds)" : "\(milliseconds)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):"
            + "\(two(parts.tm_sec)).\(fraction)Z"
    }
}

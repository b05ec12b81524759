import Logging
import NIOConcurrencyHelpers
import Testing

@testable import SwitchboardServer

struct JSONLogHandlerTests {
    /// A line is one JSON object: the fixed keys first, then the metadata sorted by key, nested values as JSON.
    @Test func aLineIsOneJSONObjectWithTheMetadataSortedByKey() {
        let line = JSONLogHandler.line(
            time: "2026-12-07T11:22:41.123Z", level: .notice, label: "switchboard", message: "request \"refused\"",
            metadata: ["status": .stringConvertible(401), "path": "/api/publish", "tags": ["a", "b"], "peer": ["ip": "127.0.0.1"]])
        #expect(
            String(decoding: line, as: UTF8.self)
                == #"{"ts":"2026-12-07T11:22:41.123Z","level":"notice","label":"switchboard","message":"request \"refused\"","#
                + #""path":"/api/publish","peer":{"ip":"127.0.0.1"},"status":"401","tags":["a","b"]}"# + "\n")
    }

    /// Logger metadata and the event's own metadata both reach the line; the event's wins on a clash.
    @Test func loggerAndEventMetadataAreMerged() {
        let lines = NIOLockedValueBox<[String]>([])
        var logger = Logger(label: "test") { label in
            JSONLogHandler(label: label, output: .custom { bytes in lines.withLockedValue { $0.append(String(decoding: bytes, as: UTF8.self)) } })
        }
        logger[metadataKey: "session"] = "logger"
        logger[metadataKey: "node"] = "n1"
        logger.info("hello", metadata: ["session": "event"])
        let written = lines.withLockedValue { $0 }
        #expect(written.count == 1)
        #expect(written.first?.hasSuffix(#""message":"hello","node":"n1","session":"event"}"# + "\n") == true)
    }

    /// Timestamps are UTC ISO 8601 with milliseconds.
    @Test func timestampsAreUTCWithMilliseconds() {
        let time = JSONLogHandler.now()
        #expect(time.count == 24)
        #expect(time.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil)
    }
}

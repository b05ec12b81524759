import Foundation

/// The lines a coordinator and its worker processes exchange over the worker's standard input and output.
///
/// Worker → coordinator: `ready` once its connections are up, then `result JSON` (a `FleetResult`).
/// Coordinator → worker: `publishing`, then `published [accepted per channel]` (fan-out), or `go` (echo, storm).
enum WorkerMessage {
    static let ready = "ready"
    static let publishing = "publishing"
    static let go = "go"
    static let publishedPrefix = "published "
    static let resultPrefix = "result "

    /// `--worker-options` carries the worker's `BenchOptions` as base64 JSON (one argument, no quoting trouble).
    static func encode(_ options: BenchOptions) throws -> String {
        try JSONEncoder().encode(options).base64EncodedString()
    }

    static func decodeOptions(_ argument: String) throws -> BenchOptions {
        guard let data = Data(base64Encoded: argument) else { throw BenchOptionError("--worker-options is not base64") }
        return try JSONDecoder().decode(BenchOptions.self, from: data)
    }
}

/// The worker side: a process started by a coordinator with `bench --worker-options …`, holding a share of the
/// subscribers and following the coordinator's lines.
public enum BenchWorker {
    public static func run(encodedOptions: String) async throws {
        let options = try WorkerMessage.decodeOptions(encodedOptions)
        let fleet = try LocalFleet(options: options)
        let input = LineInbox.reading(FileHandle.standardInput)
        func send(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        do {
            try await fleet.connect()
            send(WorkerMessage.ready)
            while let line = await input.next() {
                var result: FleetResult?
                if line == WorkerMessage.publishing {
                    try await fleet.publishingStarts()
                } else if line.hasPrefix(WorkerMessage.publishedPrefix) {
                    let accepted = try JSONDecoder().decode([Int].self, from: Data(line.dropFirst(WorkerMessage.publishedPrefix.count).utf8))
                    result = try await fleet.publishingEnded(accepted: accepted)
                } else if line == WorkerMessage.go {
                    result = try await fleet.runOwnPhase()
                }
                if let result {
                    send(WorkerMessage.resultPrefix + String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
                    break
                }
            }
        } catch {
            await fleet.shutdown()
            throw error
        }
        await fleet.shutdown()
    }
}

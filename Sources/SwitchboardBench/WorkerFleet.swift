import Foundation

/// A share of the subscribers held by a child process (the bench binary re-executed with `--worker-options`), so
/// one run can open more connections than one process may (the open-file limit is per process).
final class WorkerFleet: Fleet, @unchecked Sendable {
    private let process: Process
    private let input: FileHandle
    private let output: LineInbox
    private let index: Int

    init(options: BenchOptions, index: Int, of workers: Int) throws {
        self.index = index
        let share = options.share(forWorker: index, of: workers)
        process = Process()
        let executable = try options.workerExecutable ?? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["bench", "--worker-options", try WorkerMessage.encode(share)]
        let toWorker = Pipe()
        let fromWorker = Pipe()
        process.standardInput = toWorker
        process.standardOutput = fromWorker
        process.standardError = FileHandle.standardError
        try process.run()
        input = toWorker.fileHandleForWriting
        output = LineInbox.reading(fromWorker.fileHandleForReading)
    }

    func connect() async throws {
        guard let line = await output.next(), line == WorkerMessage.ready else {
            throw BenchOptionError("worker \(index) did not get ready (exited with \(process.isRunning ? "-" : "\(process.terminationStatus)"))")
        }
    }

    func progressSnapshot() async throws -> LoopSnapshot? { nil }

    func publishingStarts() async throws { send(WorkerMessage.publishing) }

    func publishingEnded(accepted: [Int]) async throws -> FleetResult {
        send(WorkerMessage.publishedPrefix + String(decoding: try JSONEncoder().encode(accepted), as: UTF8.self))
        return try await result()
    }

    func runOwnPhase() async throws -> FleetResult {
        send(WorkerMessage.go)
        return try await result()
    }

    private func result() async throws -> FleetResult {
        while let line = await output.next() {
            if line.hasPrefix(WorkerMessage.resultPrefix) {
                return try JSONDecoder().decode(FleetResult.self, from: Data(line.dropFirst(WorkerMessage.resultPrefix.count).utf8))
            }
        }
        throw BenchOptionError("worker \(index) ended without a result")
    }

    private func send(_ line: String) { input.write(Data((line + "\n").utf8)) }

    func shutdown() async {
        try? input.close()
        for _ in 0..<100 where process.isRunning { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { process.terminate() }
    }
}

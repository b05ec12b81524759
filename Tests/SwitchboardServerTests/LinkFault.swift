import Foundation
import NIOCore
import SwitchboardClient

/// The link-fault proxy (`tools/linkfault/linkfault.mjs`, docs/client.md) in a Node process of its own, driven over
/// its control port: a TCP proxy between a client and the server that cuts links on command.
final class LinkFault: @unchecked Sendable {  // the Process is only read at start and terminated once
    let port: Int
    private let controlPort: Int
    private let process: Process

    private init(port: Int, controlPort: Int, process: Process) {
        self.port = port
        self.controlPort = controlPort
        self.process = process
    }

    struct StartFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts the proxy on free ports in front of `127.0.0.1:targetPort`.
    static func start(targetPort: Int) async throws -> LinkFault {
        // The proxy prints one line: "linkfault listening on http://127.0.0.1:P control http://127.0.0.1:C".
        let (process, line) = try await NodeTool.start(
            "linkfault.mjs", ["--target", "http://127.0.0.1:\(targetPort)", "--port", "0", "--control-port", "0"])
        let ports = line.split(separator: " ").compactMap { word in word.split(separator: ":").last.flatMap { Int($0) } }
        guard ports.count == 2 else {
            process.terminate()
            throw StartFailure(description: "unexpected linkfault output: \(line)")
        }
        return LinkFault(port: ports[0], controlPort: ports[1], process: process)
    }

    /// Resets every open connection (a dropped link).
    func cut() async throws { try await control("/cut") }

    /// Forwards new connections to another server (a restarted one).
    func setTarget(port: Int) async throws { try await control("/target?url=http://127.0.0.1:\(port)") }

    /// Answers WebSocket upgrades with 403 while `on`.
    func refuseWebSocket(_ on: Bool) async throws { try await control("/websocket?refuse=\(on ? 1 : 0)") }

    /// Swallows the bytes of open and new connections in both directions while `on` (a black hole nobody reports).
    func setStalled(_ on: Bool) async throws { try await control("/stall?on=\(on ? 1 : 0)") }

    /// Cuts and refuses new connections while `on`.
    func setOffline(_ on: Bool) async throws { try await control("/offline?on=\(on ? 1 : 0)") }

    /// Ends the proxy. Does not wait: `Process.waitUntilExit()` polls a run loop and, called from a Swift concurrency
    /// thread, can park that thread for good (the CI run of 2026-12-07 hung in this suite's step); Foundation reaps
    /// the child by itself.
    func stop() { process.terminate() }

    private func control(_ path: String) async throws {
        let response = try await HTTPClient.request("POST", host: "127.0.0.1", port: controlPort, path: path)
        guard response.status == 200 else { throw StartFailure(description: "linkfault \(path): \(response.status) \(response.bodyText)") }
    }
}

/// The HTTP-fault proxy (`tools/linkfault/httpfault.mjs`) in a Node process of its own: it answers a share of the
/// requests with 503 itself and drops the response of another share after the server handled the request.
final class HTTPFault: @unchecked Sendable {  // the Process is only read at start and terminated once
    let port: Int
    private let process: Process

    private init(port: Int, process: Process) {
        self.port = port
        self.process = process
    }

    /// Starts the proxy on a free port in front of `127.0.0.1:targetPort`.
    /// - Parameters:
    ///   - refuseFirst: the first requests refused whatever the roll.
    ///   - status: the refusals' status (503 or 429).
    ///   - retryAfter: the refusals' `retry-after` header, if any.
    static func start(
        targetPort: Int, refuse: Double, drop: Double, seed: Int = 1, refuseFirst: Int = 0, status: Int = 503, retryAfter: Int? = nil
    ) async throws -> HTTPFault {
        // The proxy prints one line: "httpfault listening on http://127.0.0.1:P".
        var arguments = [
            "--target", "http://127.0.0.1:\(targetPort)", "--port", "0", "--refuse", "\(refuse)", "--drop", "\(drop)", "--seed", "\(seed)",
            "--refuse-first", "\(refuseFirst)", "--status", "\(status)",
        ]
        if let retryAfter { arguments += ["--retry-after", "\(retryAfter)"] }
        let (process, line) = try await NodeTool.start("httpfault.mjs", arguments)
        guard let port = line.split(separator: ":").last.flatMap({ Int($0) }) else {
            process.terminate()
            throw LinkFault.StartFailure(description: "unexpected httpfault output: \(line)")
        }
        return HTTPFault(port: port, process: process)
    }

    /// The proxy's counts: requests, refused, dropped, forwarded.
    func stats() async throws -> [String: Int] {
        let response = try await HTTPClient.request("GET", host: "127.0.0.1", port: port, path: "/__httpfault/stats")
        return (try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Int]) ?? [:]
    }

    /// Ends the proxy. Does not wait: `Process.waitUntilExit()` polls a run loop and, called from a Swift concurrency
    /// thread, can park that thread for good (the CI run of 2026-12-07 hung in this suite's step); Foundation reaps
    /// the child by itself.
    func stop() { process.terminate() }
}

/// A tool of `tools/linkfault/` in a Node process of its own, started on free ports.
enum NodeTool {
    /// Runs `node tools/linkfault/SCRIPT ARGUMENTS` and returns the process with the first line it printed (where the
    /// tools say which ports they took).
    static func start(_ script: String, _ arguments: [String]) async throws -> (Process, String) {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("tools/linkfault/\(script)").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["node", path] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let line: String
        do {
            line = try await firstLine(of: output.fileHandleForReading, script: script)
        } catch {
            process.terminate()
            throw error
        }
        return (process, line)
    }

    /// The first line the tool prints, read with a readability handler: no thread blocks in a read, and a tool that
    /// exits first (end of file) or prints nothing within 30 s is an error, not a hang.
    private static func firstLine(of handle: FileHandle, script: String) async throws -> String {
        let reader = LineReader()
        return try await withCheckedThrowingContinuation { continuation in
            reader.start(continuation)
            handle.readabilityHandler = { handle in
                let chunk = handle.availableData
                if chunk.isEmpty {
                    handle.readabilityHandler = nil
                    reader.finish(.failure(LinkFault.StartFailure(description: "\(script) exited before printing its ports")))
                } else if let line = reader.append(chunk) {
                    handle.readabilityHandler = nil
                    reader.finish(.success(line))
                }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + 30) {
                handle.readabilityHandler = nil
                reader.finish(.failure(LinkFault.StartFailure(description: "\(script) printed no line within 30 s")))
            }
        }
    }
}

/// Bytes read so far and the one continuation waiting for the first line; resumed once, whoever comes first.
private final class LineReader: @unchecked Sendable {  // every member is guarded by `lock`
    private let lock = NSLock()
    private var bytes: [UInt8] = []
    private var continuation: CheckedContinuation<String, any Error>?

    func start(_ continuation: CheckedContinuation<String, any Error>) {
        lock.withLock { self.continuation = continuation }
    }

    /// Adds a chunk; returns the first line once it is complete.
    func append(_ chunk: Data) -> String? {
        lock.withLock {
            bytes += chunk
            guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
            return String(decoding: bytes[..<newline], as: UTF8.self)
        }
    }

    func finish(_ result: Result<String, any Error>) {
        let waiting = lock.withLock { () -> CheckedContinuation<String, any Error>? in
            defer { continuation = nil }
            return continuation
        }
        waiting?.resume(with: result)
    }
}

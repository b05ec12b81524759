import ArgumentParser
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import SwitchboardCore
import SwitchboardKit

struct Subscribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Watch channels over WebSocket, printing each publication as one JSON line.",
        discussion: """
            Each line is a publication: {"push":"publication","channel":…,"epoch":…,"offset":…,"data":…}. \
            Subscribe results, resets and connection changes go to standard error. The subscription survives lost \
            connections and server restarts: it reconnects with backoff and recovers exactly what it missed (or \
            reports a reset). --since EPOCH:OFFSET recovers what was published after that position.
            """
    )

    @Argument(help: "One or more channel names.")
    var channels: [String]

    @Option(name: .long, help: "Server base URL.")
    var url = "http://127.0.0.1:8080"

    @Option(name: .long, help: "Recover from this position (EPOCH:OFFSET, as printed by publish); applies to every channel.")
    var since: String?

    @Option(name: .long, help: "Connection token (sent in the connect command), e.g. from `switchboard token`.")
    var token: String?

    @Option(name: .long, help: "Exit after this many publications (for scripts).")
    var count: Int?

    @Option(
        name: .long, help: "PEM file of the certificate(s) to trust on https:// (e.g. cert.pem from `switchboard cert`); default: the system's roots."
    )
    var ca: String?

    func run() async throws {
        var position: Kit.Position?
        if let since {
            guard let parsed = StreamPosition(parsing: Substring(since)) else { throw ValidationError("--since must be EPOCH:OFFSET") }
            position = Kit.Position(epoch: parsed.epoch, offset: parsed.offset)
        }
        let client: Kit.Client
        do {
            var configuration = Kit.Client.Configuration()
            if let ca { configuration.tls = try TrustedCertificates.load(ca) }
            client = try Kit.Client(url: url, token: token, configuration: configuration)
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("--url must look like http://127.0.0.1:8080 (\(error))")
        }
        let stateReporter = Task {
            for await state in client.connectionStates() {
                switch state {
                case .reconnecting(let attempt, let delay, let reason):
                    Output.error("switchboard: connection lost (\(reason)); reconnecting in \(delay) (attempt \(attempt))")
                case .disconnected(let code, let reason):
                    Output.error("switchboard: closed by server: \(code) \(reason)")
                case .idle, .connecting, .connected, .failed, .closed:
                    // A failure ends the subscriptions with the same error, printed below.
                    continue
                }
            }
        }
        defer { stateReporter.cancel() }
        let printed = Counter(limit: count)
        let start = position
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for channel in channels {
                    group.addTask {
                        for try await event in client.subscribe(channel, since: start) {
                            Self.report(event)
                            if case .publication = event, printed.increment() { return }
                        }
                    }
                }
                // With --count, the first subscription to reach it ends the command.
                try await group.next()
                group.cancelAll()
            }
        } catch let error as Kit.ServerError {
            Output.error("switchboard: subscribe refused: \(error)")
            await client.close()
            throw ExitCode(1)
        } catch let error as Kit.ClientError {
            // The server's stop was reported by the state reporter; the client's own failures (TLS, token provider)
            // are said here.
            if error.code != .serverStopped { Output.error("switchboard: \(error)") }
            await client.close()
            throw ExitCode(error.closeCode == 1000 ? 0 : 1)
        }
        await client.close()
    }

    private static func report(_ event: Kit.SubscriptionEvent) {
        var writer = JSONWriter()
        writer.beginObject()
        switch event {
        case .publication(let publication):
            writer.field("push", string: "publication")
            writer.field("channel", string: publication.channel)
            writer.field("epoch", string: publication.position.epoch)
            writer.field("offset", uint: publication.position.offset)
            writer.field("data", raw: publication.data)
            if let sender = publication.sender { writer.field("sender", string: sender) }
            if let key = publication.key { writer.field("key", string: key) }
            writer.endObject()
            Output.line(String(buffer: writer.buffer))
        case .subscribed(let subscribed):
            writer.key("result")
            writer.beginObject()
            writer.field("channel", string: subscribed.channel)
            writer.field("epoch", string: subscribed.position.epoch)
            writer.field("offset", uint: subscribed.position.offset)
            if let recovered = subscribed.recovered { writer.field("recovered", bool: recovered) }
            writer.endObject()
            writer.endObject()
            Output.error(String(buffer: writer.buffer))
        case .reset(let reset):
            writer.field("push", string: "reset")
            writer.field("channel", string: reset.channel)
            writer.field("epoch", string: reset.position.epoch)
            writer.field("offset", uint: reset.position.offset)
            writer.field("recovered", bool: false)
            writer.field("reason", string: reset.reason)
            writer.endObject()
            Output.error(String(buffer: writer.buffer))
        case .presence, .join, .leave, .presenceUpdate, .signal, .receipt:
            // The CLI prints the stream and its resets; presence, signals and receipts are for applications.
            return
        }
    }
}

/// Publications printed so far, shared by the channels' tasks.
private final class Counter: Sendable {
    private let state: NIOLockedValueBox<Int>
    private let limit: Int?

    init(limit: Int?) {
        self.state = NIOLockedValueBox(0)
        self.limit = limit
    }

    /// Counts one; true once the limit is reached.
    func increment() -> Bool {
        let value = state.withLockedValue {
            $0 += 1
            return $0
        }
        return limit.map { value >= $0 } ?? false
    }
}

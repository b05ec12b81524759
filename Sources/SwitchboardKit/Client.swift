public import NIOCore
import SwitchboardCore

extension Switchboard {
    /// A connection to a Switchboard hub that outlives the network: subscriptions resume exactly where they were after
    /// every reconnect, or say explicitly that they could not (``SubscriptionEvent/reset(_:)``).
    ///
    /// ```swift
    /// let client = try Switchboard.Client(url: "ws://127.0.0.1:8080", token: token)
    /// for try await event in client.subscribe("chat:lobby") {
    ///     switch event {
    ///     case .publication(let publication): render(publication.text)
    ///     case .reset: reloadFromBackend()
    ///     case .subscribed: break
    ///     }
    /// }
    /// ```
    ///
    /// The client connects on first use (a subscription's first iteration, a publish, or ``connect()``) over WebSocket
    /// with the JSON protocol, and reconnects with full-jitter backoff after every lost connection unless the server's
    /// close code says not to (protocol.md §6). Call ``close()`` when done.
    public final class Client: Sendable {
        let driver: ClientDriver

        /// - Parameters:
        ///   - url: the hub: `ws://HOST:PORT` or `http://HOST:PORT` (the path defaults to `/connection/websocket`).
        ///   - token: the connection token (a JWT), sent in the `connect` command; nil connects anonymously.
        ///   - configuration: backoff, heartbeat and size limits.
        /// - Throws: ``ClientError`` with ``ClientError/Code/invalidURL`` when the URL cannot be used.
        public init(url: String, token: String? = nil, configuration: Configuration = Configuration()) throws {
            driver = ClientDriver(endpoint: try Self.endpoint(url), token: .fixed(token), configuration: configuration)
        }

        /// - Parameters:
        ///   - url: the hub: `ws://HOST:PORT` or `http://HOST:PORT` (the path defaults to `/connection/websocket`).
        ///   - token: a fixed token or a provider asked whenever a new token is needed (``TokenSource``).
        ///   - configuration: backoff, heartbeat and size limits.
        /// - Throws: ``ClientError`` with ``ClientError/Code/invalidURL`` when the URL cannot be used.
        public init(url: String, token: TokenSource, configuration: Configuration = Configuration()) throws {
            driver = ClientDriver(endpoint: try Self.endpoint(url), token: token, configuration: configuration)
        }

        deinit {
            let driver = driver
            Task { await driver.close() }
        }

        /// Subscribes to `channel`; the subscription starts when the sequence is first iterated and ends when the
        /// iterating task is cancelled or leaves the loop (the client then unsubscribes).
        ///
        /// The sequence survives disconnects: after each reconnect the client subscribes again from the last position
        /// it delivered, so every publication arrives exactly once and in order, or a ``SubscriptionEvent/reset(_:)``
        /// says that some could not be recovered. It throws ``ServerError`` when the server refuses the subscription
        /// (for permission or validity; refusals that may pass later, such as an unavailable engine, are retried), and
        /// ``ClientError`` when the server said not to reconnect. A client holds one subscription per channel.
        /// - Parameters:
        ///   - channel: the channel name (protocol.md §2).
        ///   - since: the last position the application already has; nil starts with the next publication.
        public func subscribe(_ channel: String, since: Position? = nil) -> Subscription {
            Subscription(driver: driver, channel: channel, since: since)
        }

        /// Publishes one JSON value to `channel` and returns its position.
        ///
        /// The publish waits for a connection if there is none, and is sent again after a reconnect when its reply was
        /// lost, with the same idempotency key: the server then answers the original position, so the publication
        /// exists once (within the namespace's `idempotency_window_seconds`).
        /// - Parameters:
        ///   - channel: the channel name.
        ///   - json: one JSON value (object, array, string, number, `true`, `false` or `null`).
        ///   - idempotencyKey: 1–128 bytes identifying this publication; nil generates one.
        /// - Throws: ``ServerError`` when the server refuses it, ``ClientError`` for JSON that is not one value or when
        ///   the client is closed or stopped first.
        @discardableResult
        public func publish(_ channel: String, json: ByteBuffer, idempotencyKey: String? = nil) async throws -> Position {
            let data: ByteBuffer
            do {
                data = try JSONScanner.validateAndMinify(json)
            } catch {
                throw ClientError(.invalidJSON, "\(error)")
            }
            return try await driver.publish(channel: channel, data: data, idempotencyKey: idempotencyKey ?? Self.makeIdempotencyKey())
        }

        /// Publishes one JSON value given as text, like the `ByteBuffer` variant.
        @discardableResult
        public func publish(_ channel: String, json: String, idempotencyKey: String? = nil) async throws -> Position {
            try await publish(channel, json: ByteBuffer(string: json), idempotencyKey: idempotencyKey)
        }

        /// The connection's states: the current one first, then every change, until the client is closed or stopped.
        public func connectionStates() -> AsyncStream<ConnectionState> {
            let (stream, continuation) = AsyncStream.makeStream(of: ConnectionState.self, bufferingPolicy: .bufferingNewest(256))
            let identifier = UInt64.random(in: .min ... .max)
            let driver = driver
            continuation.onTermination = { _ in Task { await driver.stopObservingStates(identifier: identifier) } }
            Task { await driver.observeStates(identifier: identifier, continuation: continuation) }
            return stream
        }

        /// Connects now rather than on first use.
        public func connect() async {
            await driver.connect()
        }

        /// Counters of what the client did, for tests and monitoring.
        public func statistics() async -> Statistics {
            await driver.currentStatistics()
        }

        /// Closes the connection for good: subscriptions end (their sequences finish), publishes still waiting throw
        /// ``ClientError/Code/clientClosed``.
        public func close() async {
            await driver.close()
        }

        static func makeIdempotencyKey() -> String {
            let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
            // 22 characters of 62: about 131 random bits.
            return String(decoding: (0..<22).map { _ in alphabet.randomElement()! }, as: UTF8.self)
        }

        static func endpoint(_ url: String) throws -> WebSocketTransport.Endpoint {
            func invalid(_ reason: String) -> ClientError { ClientError(.invalidURL, "\(url): \(reason)") }
            guard let schemeEnd = url.range(of: "://") else { throw invalid("expected ws://HOST:PORT or http://HOST:PORT") }
            let scheme = url[..<schemeEnd.lowerBound].lowercased()
            guard scheme == "ws" || scheme == "http" else {
                throw invalid("only ws:// and http:// are supported (TLS is not built yet)")
            }
            let rest = url[schemeEnd.upperBound...]
            let authority = rest.prefix { $0 != "/" && $0 != "?" }
            var path = String(rest.dropFirst(authority.count))
            if path.isEmpty || path == "/" { path = "/connection/websocket" }
            var host: Substring
            var portText: Substring?
            if authority.hasPrefix("[") {
                guard let close = authority.firstIndex(of: "]") else { throw invalid("unclosed IPv6 address") }
                host = authority[authority.index(after: authority.startIndex)..<close]
                let after = authority[authority.index(after: close)...]
                if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { throw invalid("bad port") }
            } else if let colon = authority.lastIndex(of: ":") {
                host = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            } else {
                host = authority
            }
            guard !host.isEmpty else { throw invalid("no host") }
            var port = 80
            if let portText {
                guard let parsed = Int(portText), (1...65535).contains(parsed) else { throw invalid("bad port") }
                port = parsed
            }
            return WebSocketTransport.Endpoint(host: String(host), port: port, path: path)
        }
    }
}

extension Switchboard.Client {
    /// How the client connects and reconnects.
    public struct Configuration: Sendable {
        /// Delays between reconnect attempts.
        public var backoff: Switchboard.Backoff
        /// A connection that lasted this long resets the attempt count, so a flapping link keeps backing off.
        public var stableAfter: Duration
        /// A connection on which nothing arrives for this long is closed and replaced. The server sends a heartbeat
        /// whenever the client was silent for `heartbeat.interval_ms` (25 s by default), so keep this above it.
        public var silenceLimit: Duration
        /// How long opening the TCP connection may take.
        public var connectTimeout: Duration
        /// The largest frame accepted from the server; set it at least to the server's `limits.max_message_bytes` plus
        /// the envelope.
        public var maxMessageBytes: Int
        /// The transports to try, in order of preference.
        public var transports: [Transport]
        /// Attempts in a row that fail to reach a session on one transport before the next one is tried.
        public var fallbackAfterFailures: Int

        /// - Parameters:
        ///   - backoff: reconnect delays (default: 500 ms growing to 20 s, full jitter).
        ///   - stableAfter: default 10 s.
        ///   - silenceLimit: default 35 s (the server's default heartbeat interval plus 10 s).
        ///   - connectTimeout: default 10 s.
        ///   - maxMessageBytes: default 1 MiB; at least 1 KiB.
        ///   - transports: default WebSocket, then SSE; at least one, each once.
        ///   - fallbackAfterFailures: default 2; at least 1.
        public init(
            backoff: Switchboard.Backoff = Switchboard.Backoff(), stableAfter: Duration = .seconds(10),
            silenceLimit: Duration = .seconds(35), connectTimeout: Duration = .seconds(10), maxMessageBytes: Int = 1 << 20,
            transports: [Transport] = [.webSocket, .sse], fallbackAfterFailures: Int = 2
        ) {
            precondition(silenceLimit > .zero, "silenceLimit must be positive")
            precondition(maxMessageBytes >= 1024, "maxMessageBytes must be at least 1 KiB")
            precondition(!transports.isEmpty && Set(transports).count == transports.count, "transports must be distinct and not empty")
            precondition(fallbackAfterFailures >= 1, "fallbackAfterFailures must be at least 1")
            self.transports = transports
            self.fallbackAfterFailures = fallbackAfterFailures
            self.backoff = backoff
            self.stableAfter = stableAfter
            self.silenceLimit = silenceLimit
            self.connectTimeout = connectTimeout
            self.maxMessageBytes = maxMessageBytes
        }
    }

    /// Counters of what a client did since it was created.
    public struct Statistics: Sendable, Equatable {
        /// Sessions opened (each successful `connect` reply).
        public var connects = 0
        /// Publications dropped because they were at or before the channel's position (the server's contract excludes
        /// them; a second line of defence).
        public var duplicatesDropped = 0
        /// Publications that skipped offsets without an announcement (never expected; delivered anyway).
        public var gapsSeen = 0
        /// Resets delivered, from subscribe replies and `reset` pushes.
        public var resets = 0
        /// Tokens refreshed in band (`refresh` commands the server accepted).
        public var refreshes = 0
        /// Moves to the next transport after failed attempts (fallback).
        public var transportSwitches = 0
        /// The transport of the last session opened; nil before the first.
        public var transport: Transport?
    }

    /// A way to reach the hub.
    public struct Transport: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String {
            case webSocket = "websocket"
            case sse = "sse"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// `/connection/websocket` with the subprotocol `switchboard.v1.json` (protocol.md §4).
        public static let webSocket = Transport(.webSocket)
        /// A `/connection/sse` stream for pushes and replies, with commands as `POST /connection/SESSION/command`
        /// (protocol.md §8.1): for networks where WebSocket does not get through.
        public static let sse = Transport(.sse)

        public var description: String { base.rawValue }
    }
}

extension Switchboard {
    /// The publications of one channel, as an `AsyncSequence` that survives disconnects; see
    /// ``Client/subscribe(_:since:)``.
    public struct Subscription: AsyncSequence, Sendable {
        public typealias Element = SubscriptionEvent
        public typealias Failure = any Error

        let driver: ClientDriver
        /// The channel subscribed to.
        public let channel: String
        let since: Position?

        public func makeAsyncIterator() -> Iterator {
            Iterator(driver: driver, channel: channel, since: since)
        }

        /// Iterates one subscription; the first call to `next` subscribes.
        public struct Iterator: AsyncIteratorProtocol {
            private var registration: (driver: ClientDriver, since: Position?)?
            private let channel: String
            private let identifier: UInt64
            private let continuation: ClientDriver.EventContinuation
            private var events: AsyncThrowingStream<SubscriptionEvent, any Error>.AsyncIterator

            init(driver: ClientDriver, channel: String, since: Position?) {
                let (stream, continuation) = AsyncThrowingStream.makeStream(of: SubscriptionEvent.self)
                let identifier = UInt64.random(in: .min ... .max)
                continuation.onTermination = { termination in
                    // Only the consumer going away needs an unsubscribe; a finish came from the driver itself.
                    if case .cancelled = termination { Task { await driver.unsubscribe(channel: channel, identifier: identifier) } }
                }
                self.registration = (driver, since)
                self.channel = channel
                self.identifier = identifier
                self.continuation = continuation
                self.events = stream.makeAsyncIterator()
            }

            public mutating func next() async throws -> SubscriptionEvent? {
                try await next(isolation: nil)
            }

            public mutating func next(isolation actor: isolated (any Actor)?) async throws(any Error) -> SubscriptionEvent? {
                if let registration {
                    self.registration = nil
                    await registration.driver.subscribe(
                        channel: channel, since: registration.since, identifier: identifier, continuation: continuation)
                }
                return try await events.next(isolation: actor)
            }
        }
    }
}

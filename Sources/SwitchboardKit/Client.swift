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
        ///   - url: the hub: `ws://HOST:PORT` or `http://HOST:PORT`, with TLS `wss://` or `https://` (port 443 by
        ///     default; ``Configuration/tls`` says which certificates are trusted). The path defaults to
        ///     `/connection/websocket`.
        ///   - token: the connection token (a JWT), sent in the `connect` command; nil connects anonymously.
        ///   - configuration: backoff, heartbeat and size limits.
        /// - Throws: ``ClientError`` with ``ClientError/Code/invalidURL`` when the URL cannot be used.
        public init(url: String, token: String? = nil, configuration: Configuration = Configuration()) throws {
            driver = ClientDriver(endpoint: try Self.endpoint(url), token: .fixed(token), configuration: configuration)
        }

        /// - Parameters:
        ///   - url: the hub: `ws://HOST:PORT` or `http://HOST:PORT`, with TLS `wss://` or `https://` (port 443 by
        ///     default; ``Configuration/tls`` says which certificates are trusted). The path defaults to
        ///     `/connection/websocket`.
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
        ///   - options: presence info on this channel, or watching its presence without joining it.
        public func subscribe(_ channel: String, since: Position? = nil, options: SubscribeOptions = SubscribeOptions()) -> Subscription {
            Subscription(driver: driver, channel: channel, since: since, options: options)
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
        ///   - receipts: ask for delivery and read receipts (a namespace with `receipts: true`): recipients' clients
        ///     acknowledge, and your subscription to the channel yields ``SubscriptionEvent/receipt(_:)``.
        ///   - timeout: how long to wait for the reply, connecting included; nil uses
        ///     ``Configuration/requestTimeout``.
        /// - Throws: ``ServerError`` when the server refuses it; ``ClientError`` for JSON that is not one value, when
        ///   no reply came within the timeout (``ClientError/Code/timedOut``: it may still have been published, and
        ///   publishing again with the same key is safe), or when the client is closed or stopped first.
        @discardableResult
        public func publish(
            _ channel: String, json: ByteBuffer, idempotencyKey: String? = nil, receipts: Bool = false, timeout: Duration? = nil
        ) async throws -> Position {
            let data = try Self.validated(json)
            return try await driver.publish(
                channel: channel, data: data, idempotencyKey: idempotencyKey ?? Self.makeIdempotencyKey(), receipts: receipts,
                timeout: timeout ?? driver.configuration.requestTimeout)
        }

        /// Publishes one JSON value given as text, like the `ByteBuffer` variant.
        @discardableResult
        public func publish(
            _ channel: String, json: String, idempotencyKey: String? = nil, receipts: Bool = false, timeout: Duration? = nil
        ) async throws -> Position {
            try await publish(channel, json: ByteBuffer(string: json), idempotencyKey: idempotencyKey, receipts: receipts, timeout: timeout)
        }

        /// Reads one page of a channel's history over the connection (protocol.md §4.13); whoever may subscribe may
        /// read, and a subscription is not needed.
        ///
        /// ```swift
        /// let recent = try await client.history("chat:lobby", .latest, limit: 50)
        /// let earlier = try await client.history("chat:lobby", .before(offset: recent.publications[0].position.offset))
        /// ```
        /// - Parameters:
        ///   - query: which page: from the oldest held, after a position, before an offset, or the latest.
        ///   - limit: 1–1000 publications (default 100).
        ///   - timeout: nil uses ``Configuration/requestTimeout``.
        /// - Throws: ``ServerError`` for a refusal (`107` for a limit out of range, `122` for a private channel…),
        ///   ``ClientError`` for a timeout or a closed client.
        public func history(_ channel: String, _ query: HistoryQuery = .oldest, limit: Int = 100, timeout: Duration? = nil) async throws
            -> HistoryPage
        {
            let result = try await driver.request(timeout: timeout ?? driver.configuration.requestTimeout) { id in
                Wire.history(id: id, channel: channel, query: query, limit: limit)
            }
            return try Wire.historyPage(result, channel: channel)
        }

        /// One page of a presence channel's members, in client-id order (protocol.md §4.7). The subscription's
        /// ``SubscriptionEvent/presence(_:)`` snapshot holds the first page; page on with its ``PresencePage/next``.
        /// - Parameters:
        ///   - cursor: the previous page's ``PresencePage/next``; nil for the first page.
        ///   - limit: 1–1000 members (default 100).
        ///   - timeout: nil uses ``Configuration/requestTimeout``.
        /// - Throws: ``ServerError`` (`130` presence not enabled, `131` presence denied…), ``ClientError``.
        public func presence(_ channel: String, cursor: String? = nil, limit: Int = 100, timeout: Duration? = nil) async throws
            -> PresencePage
        {
            let result = try await driver.request(timeout: timeout ?? driver.configuration.requestTimeout) { id in
                Wire.presence(id: id, channel: channel, cursor: cursor, limit: limit)
            }
            return try Wire.presencePage(result, channel: channel)
        }

        /// Changes this connection's presence info on a channel it is subscribed to; the others get
        /// ``SubscriptionEvent/presenceUpdate(_:)``. The info is kept and sent again with the subscription after every
        /// reconnect.
        /// - Parameters:
        ///   - json: one JSON value of at most 1024 bytes; nil clears the info.
        ///   - timeout: nil uses ``Configuration/requestTimeout``.
        /// - Throws: ``ServerError`` (`109` not subscribed, `130` presence not enabled, `107` too large),
        ///   ``ClientError`` (invalid JSON, timeout, closed).
        public func updatePresence(_ channel: String, info json: String?, timeout: Duration? = nil) async throws {
            let info = try json.map { try Self.validated(ByteBuffer(string: $0)) }
            try await driver.updatePresence(channel: channel, info: info, timeout: timeout ?? driver.configuration.requestTimeout)
        }

        /// Sends an ephemeral signal (typing, cursor moves) to the channel's current subscribers, you included
        /// (protocol.md §4.8): never stored or recovered. You must be subscribed to the channel.
        /// - Parameters:
        ///   - type: 1–32 of `A-Z a-z 0-9 _ - . :` (e.g. `typing`).
        ///   - json: one JSON value of at most 4096 bytes, or nil.
        ///   - timeout: nil uses ``Configuration/requestTimeout``.
        /// - Returns: ``SignalResult/coalesced`` when the namespace's signal interval held it back (the newest held one
        ///   goes out when the interval ends).
        /// - Throws: ``ServerError`` (`109` not subscribed, `132` signals not allowed, `107` bad type),
        ///   ``ClientError``.
        @discardableResult
        public func signal(_ channel: String, type: String, json: String? = nil, timeout: Duration? = nil) async throws -> SignalResult {
            let data = try json.map { try Self.validated(ByteBuffer(string: $0)) }
            let result = try await driver.request(timeout: timeout ?? driver.configuration.requestTimeout) { id in
                Wire.signal(id: id, channel: channel, type: type, data: data)
            }
            return result.bool("coalesced") == true ? .coalesced : .sent
        }

        /// The namespace's signal interval (`signal_interval_ms`) as the channel's last subscribe reply named it, to
        /// throttle your own signals to it; nil before the reply, without a subscription, or when the namespace takes no
        /// signals.
        public func signalInterval(_ channel: String) async -> Duration? {
            await driver.signalInterval(channel: channel)
        }

        /// Marks a publication that asked for receipts as read, for its publisher (delivery is acknowledged by the
        /// client itself). Waits for a connection, and is sent again if the link drops before the answer.
        /// - Throws: ``ServerError`` (`134` no receipts were asked or the publication left the history, `101`
        ///   anonymous), ``ClientError``.
        public func markRead(_ channel: String, offset: UInt64, timeout: Duration? = nil) async throws {
            _ = try await driver.request(timeout: timeout ?? driver.configuration.requestTimeout) { id in
                Wire.ack(id: id, channel: channel, offset: offset, status: .read)
            }
        }

        /// Who received and read one of your publications that asked for receipts (the publisher only).
        /// - Throws: ``ServerError`` (`135` not the publisher, `134` no record), ``ClientError``.
        public func receipts(_ channel: String, offset: UInt64, timeout: Duration? = nil) async throws -> ReceiptRecord {
            let result = try await driver.request(timeout: timeout ?? driver.configuration.requestTimeout) { id in
                Wire.receipts(id: id, channel: channel, offset: offset)
            }
            return try Wire.receiptRecord(result, channel: channel, offset: offset)
        }

        private static func validated(_ json: ByteBuffer) throws -> ByteBuffer {
            do {
                return try JSONScanner.validateAndMinify(json)
            } catch {
                throw ClientError(.invalidJSON, "\(error)")
            }
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
            guard let schemeEnd = url.range(of: "://") else { throw invalid("expected ws://, wss://, http:// or https://HOST:PORT") }
            let scheme = url[..<schemeEnd.lowerBound].lowercased()
            guard ["ws", "http", "wss", "https"].contains(scheme) else {
                throw invalid("the scheme must be ws://, wss://, http:// or https://")
            }
            let secure = scheme == "wss" || scheme == "https"
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
            var port = secure ? 443 : 80
            if let portText {
                guard let parsed = Int(portText), (1...65535).contains(parsed) else { throw invalid("bad port") }
                port = parsed
            }
            return WebSocketTransport.Endpoint(host: String(host), port: port, path: path, secure: secure)
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
        /// How long opening the TCP connection may take; on WebSocket, the TLS handshake and the upgrade then get as
        /// long again together.
        public var connectTimeout: Duration
        /// The largest frame accepted from the server; set it at least to the server's `limits.max_message_bytes` plus
        /// the envelope.
        public var maxMessageBytes: Int
        /// The transports to try, in order of preference.
        public var transports: [Transport]
        /// Attempts in a row that fail to reach a session on one transport before the next one is tried.
        public var fallbackAfterFailures: Int
        /// The certificates trusted on `wss://` and `https://` URLs (default: the system's roots).
        public var tls: Switchboard.TLS
        /// How long a call (publish, history, presence, signal, receipts, mark read) may wait for its reply,
        /// connecting included, before it throws ``Switchboard/ClientError/Code/timedOut``.
        public var requestTimeout: Duration
        /// The events a subscription buffers for a consumer that has not taken them yet. One more ends the
        /// subscription: the consumer gets the buffered events, then ``Switchboard/ClientError/Code/slowConsumer``
        /// (resubscribe `since` the last position handled; the hub's history fills the gap).
        public var maxBufferedEvents: Int

        /// - Parameters:
        ///   - backoff: reconnect delays (default: 500 ms growing to 20 s, full jitter).
        ///   - stableAfter: default 10 s.
        ///   - silenceLimit: default 35 s (the server's default heartbeat interval plus 10 s).
        ///   - connectTimeout: default 10 s.
        ///   - maxMessageBytes: default 1 MiB; at least 1 KiB.
        ///   - transports: default WebSocket, then SSE; at least one, each once.
        ///   - fallbackAfterFailures: default 2; at least 1.
        ///   - tls: default: the system's root certificates.
        ///   - requestTimeout: default 30 s; positive.
        ///   - maxBufferedEvents: default 10,000 per subscription; at least 1.
        public init(
            backoff: Switchboard.Backoff = Switchboard.Backoff(), stableAfter: Duration = .seconds(10),
            silenceLimit: Duration = .seconds(35), connectTimeout: Duration = .seconds(10), maxMessageBytes: Int = 1 << 20,
            transports: [Transport] = [.webSocket, .sse], fallbackAfterFailures: Int = 2, tls: Switchboard.TLS = .systemRoots,
            requestTimeout: Duration = .seconds(30), maxBufferedEvents: Int = 10_000
        ) {
            precondition(requestTimeout > .zero, "requestTimeout must be positive")
            precondition(maxBufferedEvents >= 1, "maxBufferedEvents must be at least 1")
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
            self.tls = tls
            self.requestTimeout = requestTimeout
            self.maxBufferedEvents = maxBufferedEvents
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
        /// Subscriptions ended because their consumer fell ``Configuration/maxBufferedEvents`` behind.
        public var slowConsumers = 0
        /// Automatic delivery acknowledgements dropped because 10,000 were waiting for a connection.
        public var acksDropped = 0
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
        let options: SubscribeOptions

        public func makeAsyncIterator() -> Iterator {
            Iterator(driver: driver, channel: channel, since: since, options: options)
        }

        /// Iterates one subscription; the first call to `next` subscribes.
        public struct Iterator: AsyncIteratorProtocol {
            private var registration: (driver: ClientDriver, since: Position?, options: SubscribeOptions)?
            private let channel: String
            private let identifier: UInt64
            private let continuation: ClientDriver.EventContinuation
            private var events: AsyncThrowingStream<SubscriptionEvent, any Error>.AsyncIterator

            init(driver: ClientDriver, channel: String, since: Position?, options: SubscribeOptions) {
                let (stream, continuation) = AsyncThrowingStream.makeStream(
                    of: SubscriptionEvent.self, bufferingPolicy: .bufferingOldest(driver.configuration.maxBufferedEvents))
                let identifier = UInt64.random(in: .min ... .max)
                continuation.onTermination = { termination in
                    // Only the consumer going away needs an unsubscribe; a finish came from the driver itself.
                    if case .cancelled = termination { Task { await driver.unsubscribe(channel: channel, identifier: identifier) } }
                }
                self.registration = (driver, since, options)
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
                        channel: channel, since: registration.since, options: registration.options, identifier: identifier,
                        continuation: continuation)
                }
                return try await events.next(isolation: actor)
            }
        }
    }
}

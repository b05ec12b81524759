public import NIOCore

/// The Switchboard SDK for Swift programs: ``Switchboard/Client`` subscribes and publishes over a connection that
/// survives disconnects.
public enum Switchboard {}

extension Switchboard {
    /// A place in a channel's stream: the stream's epoch and the offset of a publication (protocol.md §3).
    ///
    /// Offsets count from 1 within an epoch; offset 0 means "nothing published yet". The epoch changes whenever the
    /// stream's history was lost, so offsets of different epochs are not comparable.
    public struct Position: Hashable, Sendable, CustomStringConvertible {
        /// The stream's epoch: 1–16 ASCII letters or digits, opaque.
        public var epoch: String
        /// The offset of the publication within the epoch.
        public var offset: UInt64

        /// - Parameters:
        ///   - epoch: the stream's epoch, as the server reported it.
        ///   - offset: the offset of the last publication seen.
        public init(epoch: String, offset: UInt64) {
            self.epoch = epoch
            self.offset = offset
        }

        /// `EPOCH:OFFSET`, the text form of SSE ids and `GET /api/history?since=`.
        public var description: String { "\(epoch):\(offset)" }
    }

    /// One publication of a channel, as the subscription delivered it.
    public struct Publication: Sendable, Equatable {
        /// The channel it was published to.
        public var channel: String
        /// Its place in the channel's stream.
        public var position: Position
        /// The published JSON value, minified, exactly as the server stored it.
        public var data: ByteBuffer
        /// The publishing client's user (its token's `sub`); nil for anonymous and HTTP API publications.
        public var sender: String?
        /// The conflation key the publisher gave, if any (protocol.md §4.9).
        public var key: String?
        /// The publisher asked for receipts (protocol.md §4.11): the client acknowledged delivery by itself; mark it
        /// read with ``Client/markRead(_:offset:)``.
        public var receipts: Bool

        /// Creates a publication (the client builds them from the wire; tests and fakes may too).
        public init(
            channel: String, position: Position, data: ByteBuffer, sender: String? = nil, key: String? = nil, receipts: Bool = false
        ) {
            self.channel = channel
            self.position = position
            self.data = data
            self.sender = sender
            self.key = key
            self.receipts = receipts
        }

        /// ``data`` as text (JSON).
        public var text: String { String(buffer: data) }
    }

    /// A subscription could not continue exactly where it was: the publications after its last position are not all
    /// available (server restart of the in-memory engine, history window exceeded; protocol.md §3).
    ///
    /// Reload the channel's state by other means (`GET /api/history`, your backend); the publications that follow
    /// continue after ``position``.
    public struct Reset: Sendable, Equatable {
        /// The channel that was reset.
        public var channel: String
        /// The stream's current position: the next publication delivered follows it.
        public var position: Position
        /// The server's reason, one of the texts of protocol.md §3 (e.g. `epoch changed: history was lost`).
        public var reason: String

        /// Creates a reset (the client builds them from the wire; tests and fakes may too).
        public init(channel: String, position: Position, reason: String) {
            self.channel = channel
            self.position = position
            self.reason = reason
        }
    }

    /// The server confirmed a subscription, on the first connection or after a reconnect.
    public struct Subscribed: Sendable, Equatable {
        /// The channel subscribed to.
        public var channel: String
        /// The stream's position the server named: the current one, after any recovered publications.
        public var position: Position
        /// Whether the publications missed since the subscription's position follow exactly (true); nil for a
        /// subscription that started without a position. A failed recovery is a ``SubscriptionEvent/reset(_:)``
        /// instead.
        public var recovered: Bool?

        /// Creates the event (the client builds them from the wire; tests and fakes may too).
        public init(channel: String, position: Position, recovered: Bool?) {
            self.channel = channel
            self.position = position
            self.recovered = recovered
        }
    }

    /// What a subscription yields: every publication exactly once and in order, or a reset that says the sequence
    /// could not be kept; and a note each time the server confirmed the subscription.
    public enum SubscriptionEvent: Sendable, Equatable {
        /// The next publication of the channel.
        case publication(Publication)
        /// Publications were lost; the next one follows the reset's position.
        case reset(Reset)
        /// The server confirmed the subscription (each connection); publications that follow are live or recovered.
        /// Most applications ignore it; it tells a "live" indicator or a script that the subscription is in place.
        case subscribed(Subscribed)
        /// The presence snapshot of a presence channel you may see: right after each ``subscribed(_:)`` (every
        /// connection), replacing what you knew; joins, leaves and updates follow (``PresenceList`` applies them).
        case presence(PresencePage)
        /// A connection joined the channel's presence (you get your own join too).
        case join(PresenceMember)
        /// A connection left the channel's presence.
        case leave(PresenceMember)
        /// A member changed its presence info.
        case presenceUpdate(PresenceMember)
        /// A subscriber (or you) sent a signal on the channel.
        case signal(Signal)
        /// A recipient acknowledged one of your publications that asked for receipts.
        case receipt(Receipt)
    }

    /// Where the client's connection stands, as ``Client/connectionStates()`` reports it.
    public enum ConnectionState: Sendable, Equatable {
        /// Not started yet: nothing was subscribed or published.
        case idle
        /// Opening a connection; `attempt` counts the attempts since the last stable connection (1 for the first).
        case connecting(attempt: Int)
        /// Connected: the server answered `connect`, subscriptions are being (re)established. `client` is the
        /// session's id from the `connect` reply.
        case connected(client: String)
        /// The connection was lost or could not be opened; the next attempt starts after `delay` (full-jitter
        /// backoff).
        case reconnecting(attempt: Int, delay: Duration, reason: String)
        /// The server said not to reconnect (a close code of 4500–4999 or 1000/1002/1003/1007–1010, protocol.md §6).
        /// Subscriptions ended with ``ClientError/Code/serverStopped``.
        case disconnected(code: UInt16, reason: String)
        /// The client stopped because of a failure of its own (a token provider that threw); subscriptions ended with
        /// the same error.
        case failed(ClientError)
        /// ``Client/close()`` was called.
        case closed
    }

    /// The server refused a command: the error of its reply (protocol.md §5).
    public struct ServerError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The numeric code (e.g. 108).
        public var code: Int
        /// The code's name (e.g. `invalid_channel`).
        public var name: String
        /// The human-readable reason.
        public var reason: String
        /// The HTTP status of an HTTP API refusal; nil for a command's error reply.
        public var httpStatus: Int?
        /// The `retry-after` the hub sent with an HTTP refusal (429, 503), in its seconds form.
        public var retryAfter: Duration?

        /// Creates the error of a reply.
        public init(code: Int, name: String, reason: String, httpStatus: Int? = nil) {
            self.code = code
            self.name = name
            self.reason = reason
            self.httpStatus = httpStatus
        }

        public var description: String {
            httpStatus.map { "HTTP \($0): \(code) \(name): \(reason)" } ?? "\(code) \(name): \(reason)"
        }
    }

    /// A failure of the client itself, not a refusal by the server.
    public struct ClientError: Error, Sendable, Equatable, CustomStringConvertible {
        /// What kind of failure; compare with the static members.
        public struct Code: Hashable, Sendable, CustomStringConvertible {
            private enum Base: String {
                case clientClosed = "client closed"
                case serverStopped = "server said not to reconnect"
                case alreadySubscribed = "already subscribed"
                case invalidURL = "invalid URL"
                case invalidJSON = "invalid JSON"
                case tokenProviderFailed = "token provider failed"
                case tlsFailed = "TLS failed"
                case timedOut = "timed out"
                case slowConsumer = "slow consumer"
            }
            private let base: Base
            private init(_ base: Base) { self.base = base }

            /// ``Client/close()`` was called; nothing more will be delivered or sent.
            public static let clientClosed = Code(.clientClosed)
            /// The server closed the connection with a code that means "do not reconnect" (``ClientError/closeCode``).
            public static let serverStopped = Code(.serverStopped)
            /// The client already holds a subscription to this channel; one per channel per client.
            public static let alreadySubscribed = Code(.alreadySubscribed)
            /// The URL the client was given cannot be used (scheme, host).
            public static let invalidURL = Code(.invalidURL)
            /// The data given to publish is not one JSON value.
            public static let invalidJSON = Code(.invalidJSON)
            /// The token provider threw; ``ClientError/reason`` describes its error.
            public static let tokenProviderFailed = Code(.tokenProviderFailed)
            /// The hub's certificate failed the check (not trusted by ``Client/Configuration/tls``, expired, or not
            /// for the URL's host); retrying cannot help, so the client stops.
            public static let tlsFailed = Code(.tlsFailed)
            /// A call did not complete within its timeout (``Client/Configuration/requestTimeout``).
            public static let timedOut = Code(.timedOut)
            /// A subscription's consumer fell more than ``Client/Configuration/maxBufferedEvents`` events behind; the
            /// subscription ended after the buffered events (resubscribe `since` the last position handled).
            public static let slowConsumer = Code(.slowConsumer)

            public var description: String { base.rawValue }
        }

        /// What kind of failure.
        public var code: Code
        /// Details for humans.
        public var reason: String
        /// The server's close code, for ``Code/serverStopped``.
        public var closeCode: UInt16?

        init(_ code: Code, _ reason: String, closeCode: UInt16? = nil) {
            self.code = code
            self.reason = reason
            self.closeCode = closeCode
        }

        public var description: String { closeCode.map { "\(code) (\($0)): \(reason)" } ?? "\(code): \(reason)" }
    }
}

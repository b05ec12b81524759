public import NIOCore
import NIOHTTP1
import SwitchboardCore

extension Switchboard {
    /// A backend's publisher: the hub's HTTP API (`POST /api/publish`, protocol.md §10) with retries that never
    /// publish twice.
    ///
    /// ```swift
    /// let api = try Switchboard.API(baseURL: "http://127.0.0.1:8080", apiKey: key)
    /// let position = try await api.publish("news", json: #"{"title":"hello"}"#)
    /// ```
    ///
    /// Every publication carries an idempotency key (generated unless given). A request whose answer is lost (the
    /// connection ended, a timeout) or refused for a reason that passes (429, 500, 502, 503, 504) is sent again
    /// with the same keys after a full-jitter backoff delay, and the server answers a repeated key with the original
    /// position (within the namespace's `idempotency_window_seconds`), so each publication exists once.
    public final class API: Sendable {
        private let host: String
        private let port: Int
        /// The TLS settings of an `https://` base URL; nil for `http://`.
        private let tls: TLS?
        private let apiKey: String
        private let configuration: Configuration

        /// - Parameters:
        ///   - baseURL: the hub's HTTP address, `http://HOST:PORT` or `https://HOST:PORT` (port 443 by default;
        ///     ``Configuration/tls`` says which certificates are trusted).
        ///   - apiKey: the server's `api.key`.
        ///   - configuration: retries and timeouts.
        /// - Throws: ``ClientError`` with ``ClientError/Code/invalidURL``.
        public init(baseURL: String, apiKey: String, configuration: Configuration = Configuration()) throws {
            let endpoint = try Client.endpoint(baseURL)
            self.host = endpoint.host
            self.port = endpoint.port
            self.tls = endpoint.secure ? configuration.tls : nil
            self.apiKey = apiKey
            self.configuration = configuration
        }

        /// One publication of a batch.
        public struct Item: Sendable {
            /// The channel name.
            public var channel: String
            /// One JSON value.
            public var json: ByteBuffer
            /// 1–128 bytes; nil generates one.
            public var idempotencyKey: String?

            /// - Parameters:
            ///   - channel: the channel name.
            ///   - json: one JSON value, as text.
            ///   - idempotencyKey: nil generates one.
            public init(channel: String, json: String, idempotencyKey: String? = nil) {
                self.channel = channel
                self.json = ByteBuffer(string: json)
                self.idempotencyKey = idempotencyKey
            }
        }

        /// Publishes one JSON value and returns its position.
        /// - Parameters:
        ///   - channel: the channel name.
        ///   - json: one JSON value, as text.
        ///   - idempotencyKey: 1–128 bytes identifying the publication; nil generates one.
        /// - Throws: ``ServerError`` for a refusal that retrying cannot fix (or the last one when the attempts ran out),
        ///   ``ClientError`` for JSON that is not one value, or the transport's error after the last attempt.
        @discardableResult
        public func publish(_ channel: String, json: String, idempotencyKey: String? = nil) async throws -> Position {
            var writer = JSONWriter()
            writer.beginObject()
            try Self.writeItem(
                Item(channel: channel, json: json, idempotencyKey: idempotencyKey), keyOr: Client.makeIdempotencyKey(), into: &writer)
            writer.endObject()
            let answer = try await send(writer.buffer)
            guard let members = try? JSONScanner.objectMembers(answer), let position = Wire.Members(members).position else {
                throw ServerError(code: 100, name: "internal_error", reason: "answer without a position: \(String(buffer: answer))")
            }
            return position
        }

        /// Publishes several publications in one request, in order; each gets its own result (the batch is not atomic,
        /// protocol.md §10).
        /// - Returns: one result per item, in the same order.
        public func publish(batch items: [Item]) async throws -> [Result<Position, ServerError>] {
            var writer = JSONWriter(capacity: 64 * max(items.count, 1))
            writer.beginObject()
            writer.key("publications")
            writer.beginArray()
            for item in items {
                writer.beginObject()
                try Self.writeItem(item, keyOr: Client.makeIdempotencyKey(), into: &writer)
                writer.endObject()
            }
            writer.endArray()
            writer.endObject()
            let answer = try await send(writer.buffer)
            guard let members = try? JSONScanner.objectMembers(answer), let results = Wire.Members(members).values["results"],
                let elements = try? JSONScanner.arrayElements(results), elements.count == items.count
            else {
                throw ServerError(code: 100, name: "internal_error", reason: "unexpected batch answer: \(String(buffer: answer))")
            }
            return elements.map { element in
                let result = (try? JSONScanner.objectMembers(element)).map(Wire.Members.init)
                if let position = result?.position { return .success(position) }
                return .failure(
                    result?.object("error")?.serverError ?? ServerError(code: 100, name: "internal_error", reason: String(buffer: element)))
            }
        }

        private static func writeItem(_ item: Item, keyOr generated: String, into writer: inout JSONWriter) throws {
            let data: ByteBuffer
            do {
                data = try JSONScanner.validateAndMinify(item.json)
            } catch {
                throw ClientError(.invalidJSON, "\(error)")
            }
            writer.field("channel", string: item.channel)
            writer.field("data", raw: data)
            writer.field("idempotencyKey", string: item.idempotencyKey ?? generated)
        }

        /// Sends `body` to `/api/publish` until it is answered 200 or refused for good.
        /// Reads one page of `channel`'s history (`GET /api/history`, protocol.md §10), oldest first.
        ///
        /// To read everything after a position, ask again with `since` = the last publication of each page until a page
        /// comes back empty. Retried like a publish (a read has no side effects).
        /// - Parameters:
        ///   - channel: the channel name.
        ///   - since: the last position already seen; nil starts at the oldest publication still held.
        ///   - limit: 1–1000 publications per page (default 100).
        public func history(_ channel: String, since: Position? = nil, limit: Int = 100) async throws -> HistoryPage {
            var path = "/api/history?channel=\(Self.percentEncoded(channel))&limit=\(limit)"
            if let since { path += "&since=\(Self.percentEncoded(since.description))" }
            let answer = try await send(method: .GET, path: path, body: nil)
            return try Wire.historyPage(answer, channel: channel)
        }

        /// One page of a presence channel's members, in client-id order (`GET /api/presence`, protocol.md §10).
        /// - Parameters:
        ///   - cursor: the previous page's ``PresencePage/next``; nil for the first page.
        ///   - limit: 1–1000 members (default 100).
        /// - Throws: ``ServerError`` (`130` presence not enabled, `108` bad name…), or the transport's error after the
        ///   last attempt.
        public func presence(_ channel: String, cursor: String? = nil, limit: Int = 100) async throws -> PresencePage {
            var path = "/api/presence?channel=\(Self.percentEncoded(channel))&limit=\(limit)"
            if let cursor { path += "&cursor=\(Self.percentEncoded(cursor))" }
            let answer = try await send(method: .GET, path: path, body: nil)
            guard let members = try? JSONScanner.objectMembers(answer) else { throw Wire.unexpected("presence answer", answer) }
            return try Wire.presencePage(Wire.Members(members), channel: channel)
        }

        /// Who received and read a publication that asked for receipts (`GET /api/receipts`, protocol.md §10).
        /// - Throws: ``ServerError`` (`134` no record, `133` receipts not enabled…), or the transport's error after
        ///   the last attempt.
        public func receipts(_ channel: String, offset: UInt64) async throws -> ReceiptRecord {
            let path = "/api/receipts?channel=\(Self.percentEncoded(channel))&offset=\(offset)"
            let answer = try await send(method: .GET, path: path, body: nil)
            guard let members = try? JSONScanner.objectMembers(answer) else { throw Wire.unexpected("receipts answer", answer) }
            return try Wire.receiptRecord(Wire.Members(members), channel: channel, offset: offset)
        }

        /// A query value with everything but RFC 3986's unreserved characters escaped, so that any input makes a valid
        /// request line (and a bad channel name is refused by the server with its reason, not by the parser).
        static func percentEncoded(_ value: String) -> String {
            var encoded = ""
            for byte in value.utf8 {
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                    encoded.unicodeScalars.append(Unicode.Scalar(byte))
                default:
                    let hex = Array("0123456789ABCDEF".unicodeScalars)
                    encoded.unicodeScalars.append("%")
                    encoded.unicodeScalars.append(hex[Int(byte >> 4)])
                    encoded.unicodeScalars.append(hex[Int(byte & 0x0F)])
                }
            }
            return encoded
        }

        private func send(_ body: ByteBuffer) async throws -> ByteBuffer {
            try await send(method: .POST, path: "/api/publish", body: body)
        }

        /// Sends a request until it is answered 200 or refused for good.
        private func send(method: HTTPMethod, path: String, body: ByteBuffer?) async throws -> ByteBuffer {
            var generator = SystemRandomNumberGenerator()
            var attempt = 0
            while true {
                attempt += 1
                let lastAttempt = attempt >= configuration.maxAttempts
                var delay = configuration.backoff.delay(attempt: attempt, using: &generator)
                do {
                    let response = try await HTTPTransport.request(
                        host: host, port: port, tls: tls, method: method, path: path,
                        headers: [("authorization", "apikey \(apiKey)"), ("content-type", "application/json")], body: body,
                        timeout: configuration.requestTimeout)
                    if response.status == 200 { return response.body }
                    let error = Self.serverError(response)
                    guard Self.retryableStatuses.contains(response.status), !lastAttempt else { throw error }
                    if let retryAfter = error.retryAfter {
                        // The hub said when to come back: not sooner, and not at all when that is beyond the bound.
                        guard retryAfter <= configuration.maxRetryAfter else { throw error }
                        delay = max(delay, retryAfter)
                    }
                } catch let error as ServerError {
                    throw error
                } catch {
                    if TLS.isCertificateFailure(error) {
                        throw ClientError(.tlsFailed, "the hub's certificate failed the check: \(error)")
                    }
                    // No answer: the request may or may not have been published; the same keys make the retry safe.
                    if lastAttempt || Task.isCancelled { throw error }
                }
                try await Task.sleep(for: delay)
            }
        }

        /// 429 rate limited, 500 engine failure, 502 from a proxy, 503 engine unavailable, 504 engine timeout.
        private static let retryableStatuses: Set<Int> = [429, 500, 502, 503, 504]

        private static func serverError(_ response: HTTPTransport.Response) -> ServerError {
            let members = (try? JSONScanner.objectMembers(response.body)).map(Wire.Members.init)
            var error =
                members?.object("error")?.serverError
                ?? ServerError(code: 0, name: "http_\(response.status)", reason: String(buffer: response.body))
            error.httpStatus = response.status
            error.retryAfter = response.headers.first(name: "retry-after").flatMap { Int64($0.filter { $0 != " " }) }.flatMap {
                $0 >= 0 ? Duration.seconds($0) : nil
            }
            return error
        }
    }
}

extension Switchboard.API {
    /// Retries and timeouts of the publisher.
    public struct Configuration: Sendable {
        /// Delays between attempts.
        public var backoff: Switchboard.Backoff
        /// Attempts per request, the first included.
        public var maxAttempts: Int
        /// A request fails (and is retried) when nothing arrives for this long.
        public var requestTimeout: Duration
        /// The certificates trusted on an `https://` base URL (default: the system's roots).
        public var tls: Switchboard.TLS
        /// The longest `retry-after` (seconds form) of a 429 or 503 that is waited for before the next attempt; a
        /// longer one throws the refusal at once (its ``Switchboard/ServerError/retryAfter`` says when to come back).
        public var maxRetryAfter: Duration

        /// - Parameters:
        ///   - backoff: default 50 ms growing to 2 s, full jitter.
        ///   - maxAttempts: default 10; at least 1.
        ///   - requestTimeout: default 10 s.
        ///   - tls: default: the system's root certificates.
        ///   - maxRetryAfter: default 30 s.
        public init(
            backoff: Switchboard.Backoff = Switchboard.Backoff(initial: .milliseconds(50), maximum: .seconds(2)), maxAttempts: Int = 10,
            requestTimeout: Duration = .seconds(10), tls: Switchboard.TLS = .systemRoots, maxRetryAfter: Duration = .seconds(30)
        ) {
            precondition(maxAttempts >= 1, "maxAttempts must be at least 1")
            self.backoff = backoff
            self.maxAttempts = maxAttempts
            self.requestTimeout = requestTimeout
            self.tls = tls
            self.maxRetryAfter = maxRetryAfter
        }
    }
}

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
        private let apiKey: String
        private let configuration: Configuration

        /// - Parameters:
        ///   - baseURL: the hub's HTTP address, `http://HOST:PORT`.
        ///   - apiKey: the server's `api.key`.
        ///   - configuration: retries and timeouts.
        /// - Throws: ``ClientError`` with ``ClientError/Code/invalidURL``.
        public init(baseURL: String, apiKey: String, configuration: Configuration = Configuration()) throws {
            let endpoint = try Client.endpoint(baseURL)
            self.host = endpoint.host
            self.port = endpoint.port
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
        private func send(_ body: ByteBuffer) async throws -> ByteBuffer {
            var generator = SystemRandomNumberGenerator()
            var attempt = 0
            while true {
                attempt += 1
                let lastAttempt = attempt >= configuration.maxAttempts
                do {
                    let response = try await HTTPTransport.request(
                        host: host, port: port, method: .POST, path: "/api/publish",
                        headers: [("authorization", "apikey \(apiKey)"), ("content-type", "application/json")], body: body,
                        timeout: configuration.requestTimeout)
                    if response.status == 200 { return response.body }
                    let error = Self.serverError(response)
                    guard Self.retryableStatuses.contains(response.status), !lastAttempt else { throw error }
                } catch let error as ServerError {
                    throw error
                } catch {
                    // No answer: the request may or may not have been published; the same keys make the retry safe.
                    if lastAttempt || Task.isCancelled { throw error }
                }
                try await Task.sleep(for: configuration.backoff.delay(attempt: attempt, using: &generator))
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

        /// - Parameters:
        ///   - backoff: default 50 ms growing to 2 s, full jitter.
        ///   - maxAttempts: default 10; at least 1.
        ///   - requestTimeout: default 10 s.
        public init(
            backoff: Switchboard.Backoff = Switchboard.Backoff(initial: .milliseconds(50), maximum: .seconds(2)), maxAttempts: Int = 10,
            requestTimeout: Duration = .seconds(10)
        ) {
            precondition(maxAttempts >= 1, "maxAttempts must be at least 1")
            self.backoff = backoff
            self.maxAttempts = maxAttempts
            self.requestTimeout = requestTimeout
        }
    }
}

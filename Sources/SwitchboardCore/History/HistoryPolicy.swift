/// How much of a channel's stream an engine keeps for recovery.
public struct HistoryPolicy: Sendable, Equatable {
    public var capacity: Int
    public var ttl: Duration?
    /// How long a publish idempotency key is remembered; zero turns deduplication off.
    public var idempotencyRetention: Duration
    /// Idempotency keys remembered per channel at most (the oldest are forgotten first).
    public var idempotencyCapacity: Int
    /// Recipients named per receipt record at most (the namespace's `receipts_max_recipients`).
    public var receiptsMaxRecipients: Int = 1000

    public init(capacity: Int, ttl: Duration?, idempotencyRetention: Duration = .zero, idempotencyCapacity: Int = 10_000) {
        self.capacity = capacity
        self.ttl = ttl
        self.idempotencyRetention = idempotencyRetention
        self.idempotencyCapacity = idempotencyCapacity
    }

    public var idempotencyWindow: IdempotencyWindow {
        IdempotencyWindow(retentionNanoseconds: Self.nanoseconds(idempotencyRetention), capacity: idempotencyCapacity)
    }

    public var ttlNanoseconds: UInt64? {
        guard let ttl else { return nil }
        return Self.nanoseconds(ttl)
    }

    private static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        // Saturates: a TTL beyond UInt64 nanoseconds (~584 years; config accepts any Int seconds) means "never expires".
        let (whole, overflow) = UInt64(max(seconds, 0)).multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return .max }
        let (total, carry) = whole.addingReportingOverflow(UInt64(max(attoseconds, 0) / 1_000_000_000))
        return carry ? .max : total
    }
}

/// Makes short random epochs: 8 characters of [0-9A-Za-z].
public enum EpochGenerator {
    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    public static func make<R: RandomNumberGenerator>(using generator: inout R) -> String {
        String(decoding: (0..<8).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }, as: UTF8.self)
    }

    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return make(using: &generator)
    }
}

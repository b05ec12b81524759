/// What one retention pass of a durable engine removed (the SQLite and PostgreSQL engines trim the same kinds of rows).
public struct TrimReport: Sendable, Equatable {
    public var publications = 0
    public var receipts = 0
    public var idempotencyKeys = 0
    public var channels = 0

    public init() {}
}

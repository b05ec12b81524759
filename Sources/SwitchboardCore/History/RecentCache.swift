/// A small cache of recently made values, bounded by count and by a cost (bytes), evicting the oldest first.
///
/// Used where the same expensive value is asked for many times in a short while and then never again: e.g. the
/// encoded form of the publications that thousands of reconnecting subscribers recover at once.
public struct RecentCache<Key: Hashable, Value> {
    public let maxEntries: Int
    public let maxCost: Int
    public private(set) var cost = 0
    private var values: [Key: (value: Value, cost: Int)] = [:]
    private var order: [Key] = []
    /// Index of the oldest live key in `order` (the array is compacted when half of it is dead).
    private var head = 0

    public init(maxEntries: Int, maxCost: Int) {
        precondition(maxEntries > 0 && maxCost > 0, "cache bounds must be positive")
        self.maxEntries = maxEntries
        self.maxCost = maxCost
    }

    public var count: Int { values.count }

    public subscript(key: Key) -> Value? { values[key]?.value }

    /// Remembers `value`, evicting the oldest entries until both bounds hold; a value costlier than `maxCost` is not kept.
    public mutating func insert(_ value: Value, for key: Key, cost: Int) {
        guard cost <= maxCost, values[key] == nil else { return }
        values[key] = (value, cost)
        order.append(key)
        self.cost += cost
        while values.count > maxEntries || self.cost > maxCost { evictOldest() }
    }

    public mutating func removeAll() {
        values.removeAll()
        order.removeAll()
        head = 0
        cost = 0
    }

    private mutating func evictOldest() {
        let key = order[head]
        head += 1
        if let removed = values.removeValue(forKey: key) { cost -= removed.cost }
        if head > 64 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}

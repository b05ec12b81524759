import SwitchboardCore
import Testing

struct RecentCacheTests {
    @Test func aValueIsFoundUntilItIsEvicted() {
        var cache = RecentCache<Int, String>(maxEntries: 2, maxCost: 100)
        cache.insert("a", for: 1, cost: 1)
        cache.insert("b", for: 2, cost: 1)
        #expect(cache[1] == "a")
        cache.insert("c", for: 3, cost: 1)
        #expect(cache[1] == nil)
        #expect(cache[2] == "b")
        #expect(cache[3] == "c")
        #expect(cache.count == 2)
    }

    @Test func theCostBoundEvictsTheOldestFirst() {
        var cache = RecentCache<Int, String>(maxEntries: 10, maxCost: 10)
        cache.insert("a", for: 1, cost: 4)
        cache.insert("b", for: 2, cost: 4)
        cache.insert("c", for: 3, cost: 4)
        #expect(cache[1] == nil)
        #expect(cache[2] == "b")
        #expect(cache.cost == 8)
    }

    @Test func aValueCostlierThanTheWholeCacheIsNotKept() {
        var cache = RecentCache<Int, String>(maxEntries: 10, maxCost: 10)
        cache.insert("a", for: 1, cost: 4)
        cache.insert("huge", for: 2, cost: 11)
        #expect(cache[2] == nil)
        #expect(cache[1] == "a")
    }

    @Test func aKeyInsertedAgainKeepsItsFirstValue() {
        var cache = RecentCache<Int, String>(maxEntries: 10, maxCost: 10)
        cache.insert("a", for: 1, cost: 1)
        cache.insert("other", for: 1, cost: 1)
        #expect(cache[1] == "a")
        #expect(cache.cost == 1)
    }

    @Test func manyEvictionsKeepTheBoundsAndTheNewestValues() {
        var cache = RecentCache<Int, Int>(maxEntries: 100, maxCost: 1_000)
        for key in 0..<10_000 { cache.insert(key, for: key, cost: 1) }
        #expect(cache.count == 100)
        #expect(cache[9_999] == 9_999)
        #expect(cache[9_900] == 9_900)
        #expect(cache[9_899] == nil)
    }
}

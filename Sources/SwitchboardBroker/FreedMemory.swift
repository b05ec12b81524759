#if canImport(Glibc)
    import Glibc
#endif

/// Gives memory the allocator holds but no longer uses back to the system, after an engine dropped a lot of state
/// at once (thousands of idle channels).
///
/// glibc's allocator keeps freed small blocks in its heaps: without this, a server that once held 100,000 channels
/// stays at that size after forgetting them (measured: 39 MB → 162 MB → still 158 MB; Benchmarks/idle-channels-rss.py).
/// `malloc_trim` returns whole free pages from every arena. It walks the heaps, so it runs only after large releases.
public enum FreedMemory {
    /// State items (channels, rows) released at once that make a trim worth its walk.
    public static let worthReturning = 1_000

    public static func returnToSystem() {
        #if canImport(Glibc)
            _ = mallocTrim?(0)
        #endif
    }

    /// Fixes glibc's allocator thresholds for a long-running server, unless the operator set them (`GLIBC_TUNABLES`
    /// with `glibc.malloc.`, `MALLOC_TRIM_THRESHOLD_`, `MALLOC_MMAP_THRESHOLD_`). Returns whether it set them.
    ///
    /// By default glibc raises both thresholds each time a large block is freed (up to 32 MiB / 64 MiB): after one burst
    /// of big buffers, freed memory at the top of a thread's arena is never handed back, and `malloc_trim` does not
    /// reach it either (it returns pages inside free blocks, and trims only the main arena's top). Measured: 100,000
    /// expired channels left the memory engine 12 MB above its start with 0.8 MB of the heap in use; with fixed
    /// thresholds, 1 MB (docs/benchmarks.md, "Idle channels"). Blocks up to 4 MiB still come from the arenas, so
    /// request and frame buffers do not become a mmap/munmap pair each.
    @discardableResult
    public static func fixAllocatorThresholds(environment: [String: String]) -> Bool {
        guard AllocatorSettings.operatorSetThresholds(environment) == false else { return false }
        #if canImport(Glibc)
            guard let mallopt = mallopt else { return false }
            return mallopt(AllocatorSettings.mmapThresholdParameter, AllocatorSettings.mmapThreshold) == 1
                && mallopt(AllocatorSettings.trimThresholdParameter, AllocatorSettings.trimThreshold) == 1
        #else
            return false
        #endif
    }

    #if canImport(Glibc)
        /// `mallopt` is declared in `<malloc.h>` too.
        private static let mallopt: (@convention(c) (Int32, Int32) -> Int32)? = {
            guard let symbol = dlsym(nil, "mallopt") else { return nil }
            return unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
        }()

        /// `malloc_trim` is declared in `<malloc.h>`, which the Glibc module does not export: looked up once by name.
        private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
            guard let symbol = dlsym(nil, "malloc_trim") else { return nil }
            return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        }()
    #endif
}

/// The thresholds `FreedMemory.fixAllocatorThresholds` sets, and when it leaves them to the operator.
public enum AllocatorSettings {
    /// `M_TRIM_THRESHOLD` and `M_MMAP_THRESHOLD` in `<malloc.h>`.
    static let trimThresholdParameter: Int32 = -1
    static let mmapThresholdParameter: Int32 = -3
    /// Free memory above this at the top of a heap goes back to the system.
    public static let trimThreshold: Int32 = 1 << 20
    /// Blocks from this size on are mapped on their own and unmapped when freed.
    public static let mmapThreshold: Int32 = 4 << 20

    /// Whether the environment already sets glibc's thresholds (then they are the operator's choice).
    public static func operatorSetThresholds(_ environment: [String: String]) -> Bool {
        if environment["MALLOC_TRIM_THRESHOLD_"] != nil || environment["MALLOC_MMAP_THRESHOLD_"] != nil { return true }
        return environment["GLIBC_TUNABLES"]?.contains("glibc.malloc.") ?? false
    }
}

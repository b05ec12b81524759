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

    #if canImport(Glibc)
        /// `malloc_trim` is declared in `<malloc.h>`, which the Glibc module does not export: looked up once by name.
        private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
            guard let symbol = dlsym(nil, "malloc_trim") else { return nil }
            return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        }()
    #endif
}

import Testing

@testable import SwitchboardBroker

/// `switchboard serve` fixes glibc's allocator thresholds so memory freed after a burst goes back to the system
/// (docs/benchmarks.md, "Idle channels"), unless the operator chose them in the environment.
@Suite struct AllocatorSettingsTests {
    @Test func aCleanEnvironmentLeavesTheThresholdsToTheServer() {
        #expect(AllocatorSettings.operatorSetThresholds([:]) == false)
        #expect(AllocatorSettings.operatorSetThresholds(["GLIBC_TUNABLES": "glibc.pthread.rseq=0"]) == false)
    }

    @Test(arguments: [
        ["MALLOC_TRIM_THRESHOLD_": "131072"],
        ["MALLOC_MMAP_THRESHOLD_": "131072"],
        ["GLIBC_TUNABLES": "glibc.pthread.rseq=0:glibc.malloc.trim_threshold=131072"],
        ["GLIBC_TUNABLES": "glibc.malloc.arena_max=2"],
    ])
    func thresholdsTheOperatorSetAreKept(_ environment: [String: String]) {
        #expect(AllocatorSettings.operatorSetThresholds(environment))
        #expect(FreedMemory.fixAllocatorThresholds(environment: environment) == false)
    }

    #if canImport(Glibc)
        @Test func glibcTakesTheFixedThresholds() {
            #expect(FreedMemory.fixAllocatorThresholds(environment: [:]))
        }
    #endif
}

import Foundation
import SwitchboardFuzzTargets

// The libFuzzer entry points (built only by scripts/fuzz.sh, with SWITCHBOARD_FUZZ=1 and -sanitize=fuzzer,address).
// One binary serves every target; SWITCHBOARD_FUZZ_TARGET names the one to run, so the build happens once.

nonisolated(unsafe) private var selectedTarget: FuzzTarget?

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>)
    -> CInt
{
    let name = ProcessInfo.processInfo.environment["SWITCHBOARD_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("SWITCHBOARD_FUZZ_TARGET must be one of: \(names)\n".utf8))
        exit(2)
    }
    selectedTarget = target
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let input = start.map { Data(bytes: $0, count: count) } ?? Data()
    do {
        try selectedTarget!.run(input)
    } catch {
        FileHandle.standardError.write(Data("fuzz finding in \(selectedTarget!.rawValue): \(error)\n".utf8))
        abort()  // libFuzzer saves the input as a crash artifact
    }
    return 0
}

// SwiftPM links every executable with `--defsym main=<module>_main` (for testable executables); here that name hands
// over to libFuzzer's own driver, the `main` libFuzzer would otherwise provide.
@_silgen_name("LLVMFuzzerRunDriver")
private func runLibFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ testOneInput: @convention(c) (UnsafeRawPointer?, Int) -> CInt
) -> CInt

@_cdecl("switchboard_fuzz_main")
public func switchboardFuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runLibFuzzerDriver(&count, &arguments) { start, size in fuzzerTestOneInput(start, size) }
}

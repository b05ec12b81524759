import Foundation
import SwitchboardFuzzTargets
import Testing

/// Every fuzz target runs over its committed seed corpus (Fuzz/corpus/TARGET/) on each test run: the seeds stay
/// inputs the targets accept without a finding, and a crash input added there stays fixed.
@Suite struct FuzzCorpusTests {
    static let corpusRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus")

    @Test(arguments: FuzzTarget.allCases)
    func seedCorpusRunsWithoutFindings(_ target: FuzzTarget) throws {
        let directory = Self.corpusRoot.appendingPathComponent(target.rawValue)
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
        #expect(files.count >= 3, "each target has a seed corpus of its own")
        for file in files {
            do {
                try target.run(try Data(contentsOf: file))
            } catch {
                Issue.record("\(target.rawValue)/\(file.lastPathComponent): \(error)")
            }
        }
    }
}

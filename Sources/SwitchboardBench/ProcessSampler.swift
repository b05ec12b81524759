import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// CPU time and resident memory of a process, read from /proc, so the bench can charge the server per delivery.
public struct ProcessSample: Sendable, Codable {
    /// User + system CPU seconds since the process started.
    public var cpuSeconds: Double
    /// Resident set size in bytes.
    public var residentBytes: Int

    /// Samples process `pid`; nil when /proc has no such process.
    public static func of(pid: Int32) -> ProcessSample? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let afterName = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after the ")" that closes the command name start at field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: afterName)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let rssLine = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        let kilobytes = Int(rssLine.split(separator: " ").dropFirst().first ?? "") ?? 0
        return ProcessSample(cpuSeconds: (user + system) / ticks, residentBytes: kilobytes * 1024)
    }

    /// CPU seconds used by this process (all threads) so far, from getrusage.
    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// How many CPUs this process may run on (taskset narrows it), from /proc/self/status.
    static func allowedCPUCount() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") })
        else { return ProcessInfo.processInfo.activeProcessorCount }
        let list = line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? ""
        var count = 0
        for part in list.split(separator: ",") {
            let bounds = part.split(separator: "-").compactMap { Int($0) }
            count += bounds.count == 2 ? bounds[1] - bounds[0] + 1 : 1
        }
        return max(1, count)
    }
}

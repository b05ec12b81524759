import NIOConcurrencyHelpers

/// Samples the server process (/proc/PID) at the run's milestones and turns the samples into CPU per delivery and
/// memory per connection.
final class ServerSampler: Sendable {
    enum Milestone: Hashable, Sendable { case beforeConnecting, afterConnecting, publishStart, publishEnd }

    private let pid: Int32?
    private let samples = NIOLockedValueBox([Milestone: ProcessSample]())

    init(pid: Int32?) { self.pid = pid }

    func sample(_ milestone: Milestone) {
        guard let pid, let sample = ProcessSample.of(pid: pid) else { return }
        samples.withLockedValue { $0[milestone] = sample }
    }

    func report(deliveries: Int, established: Int) -> BenchReport.Server? {
        let samples = self.samples.withLockedValue { $0 }
        guard let pid, let before = samples[.beforeConnecting], let connected = samples[.afterConnecting],
            let start = samples[.publishStart], let end = samples[.publishEnd]
        else { return nil }
        let cpu = end.cpuSeconds - start.cpuSeconds
        return BenchReport.Server(
            pid: pid, beforeConnecting: before, afterConnecting: connected, publishStart: start, publishEnd: end,
            bytesPerConnection: Double(connected.residentBytes - before.residentBytes) / Double(max(1, established)),
            publishCPUSeconds: cpu, cpuMicrosPerDelivery: cpu * 1e6 / Double(max(1, deliveries)))
    }
}

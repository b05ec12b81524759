import SwitchboardBroker
import SwitchboardCore

extension Broker {
    /// Publishes and returns the publication (tests that do not look at duplicates).
    func publishing(_ request: PublishRequest) async throws -> Publication {
        try await publish(request).publication
    }
}

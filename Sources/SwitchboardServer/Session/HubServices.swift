import NIOConcurrencyHelpers
import NIOCore
import SwitchboardBroker
import SwitchboardCore

/// Everything sessions and HTTP handlers share: the engine, the hub, limits, metrics, and the one publish path.
final class HubServices: Sendable {
    let broker: any Broker
    let hub: Hub
    let metrics: ServerMetrics
    let settings: ServerSettings
    private let drainingFlag = NIOLockedValueBox(false)

    init(broker: any Broker, hub: Hub, metrics: ServerMetrics, settings: ServerSettings) {
        self.broker = broker
        self.hub = hub
        self.metrics = metrics
        self.settings = settings
    }

    var isDraining: Bool { drainingFlag.withLockedValue { $0 } }
    func startDraining() { drainingFlag.withLockedValue { $0 = true } }

    /// The channel's options, or the refusal when its namespace is not served.
    func options(for channel: ChannelName) -> Result<NamespaceOptions, ProtocolError> {
        guard let options = settings.configuration.options(forNamespace: channel.namespace) else {
            return .failure(ProtocolError(.unknownNamespace, "namespace \"\(channel.namespace ?? "")\" is not configured"))
        }
        return .success(options)
    }

    /// Checks that `user` may subscribe to `channel`.
    func checkSubscribe(_ channel: ChannelName, user: String?) -> ProtocolError? {
        switch options(for: channel) {
        case .failure(let error): return error
        case .success(let options):
            if !options.allowAnonymous && user == nil {
                return ProtocolError(.unauthorized, "namespace does not allow anonymous subscribers")
            }
            return nil
        }
    }

    /// Publishes validated data. Client publishes are subject to the namespace's `allow_client_publish`; the HTTP API
    /// (authenticated by API key) is not.
    func publish(_ request: PublishRequest, fromClient: Bool) async -> Result<Publication, ProtocolError> {
        switch options(for: request.channel) {
        case .failure(let error):
            metrics.error(error.code)
            return .failure(error)
        case .success(let options):
            if fromClient && !options.allowClientPublish {
                metrics.error(.publishNotAllowed)
                return .failure(ProtocolError(.publishNotAllowed, "clients may not publish to this namespace"))
            }
            if fromClient && !options.allowAnonymous && request.sender == nil {
                metrics.error(.unauthorized)
                return .failure(ProtocolError(.unauthorized, "namespace does not allow anonymous publishers"))
            }
        }
        do {
            let publication = try await broker.publish(request)
            metrics.published(source: fromClient ? "client" : "api")
            return .success(publication)
        } catch {
            metrics.error(.internalError)
            return .failure(ProtocolError(.internalError, "engine failed to publish"))
        }
    }
}

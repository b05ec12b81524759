import SwitchboardCore

/// Which namespaces are served, with what options, and who may subscribe: the configuration's channel rules, read by
/// sessions, the stream routes and the HTTP API.
///
/// A class: one instance per server, shared by reference (every connection's stream routes keep one).
final class ChannelRules: Sendable {
    let configuration: HubConfiguration

    init(configuration: HubConfiguration) {
        self.configuration = configuration
    }

    /// The channel's options, or the refusal when its namespace is not served.
    func options(for channel: ChannelName) -> Result<NamespaceOptions, ProtocolError> {
        guard let options = configuration.options(forNamespace: channel.namespace) else {
            return .failure(ProtocolError(.unknownNamespace, "namespace \"\(channel.namespace ?? "")\" is not configured"))
        }
        return .success(options)
    }

    /// Checks that `identity` (nil: anonymous) may subscribe to `channel`.
    func checkSubscribe(_ channel: ChannelName, identity: Identity?, hasSubscriptionToken: Bool = false) -> ProtocolError? {
        switch options(for: channel) {
        case .failure(let error): return error
        case .success(let options):
            return Permissions.subscribe(channel, options: options, identity: identity, hasSubscriptionToken: hasSubscriptionToken)
        }
    }
}

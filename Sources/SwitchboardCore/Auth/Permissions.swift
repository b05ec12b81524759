/// Decides what a connection may do on a channel, from the namespace's options and the token's capabilities.
///
/// Rules (docs/security.md):
/// - subscribe: a token with capabilities may subscribe exactly where `caps.subscribe` matches; otherwise an
///   authenticated user may subscribe to any non-private namespace, and an anonymous one only where `allow_anonymous`.
///   A private namespace also accepts a valid subscription token for the channel.
/// - publish: a token with capabilities may publish where `caps.publish` matches; otherwise the namespace must allow
///   client publishing, and anonymous publishers also need `allow_anonymous`.
public enum Permissions {
    public static func subscribe(_ channel: ChannelName, options: NamespaceOptions, identity: Identity?, hasSubscriptionToken: Bool = false)
        -> ProtocolError?
    {
        if hasSubscriptionToken { return nil }
        if let capabilities = identity?.capabilities {
            return capabilities.subscribe.matches(channel)
                ? nil : ProtocolError(.subscribeDenied, "token does not grant subscribing to \(channel)")
        }
        if options.isPrivate {
            return ProtocolError(.subscribeDenied, "channel is private: a capability or subscription token is required")
        }
        if identity == nil && !options.allowAnonymous {
            return ProtocolError(.unauthorized, "namespace does not allow anonymous subscribers: connect with a token")
        }
        return nil
    }

    /// Seeing who is present (snapshots, join/leave pushes, the `presence` command): the namespace must track
    /// presence; a token with capabilities needs a matching `caps.presence`; otherwise whoever may subscribe may see.
    public static func presence(_ channel: ChannelName, options: NamespaceOptions, identity: Identity?) -> ProtocolError? {
        guard options.presence else { return ProtocolError(.presenceNotEnabled, "namespace does not track presence") }
        if let capabilities = identity?.capabilities {
            return capabilities.presence.matches(channel)
                ? nil : ProtocolError(.presenceDenied, "token does not grant seeing presence of \(channel)")
        }
        return subscribe(channel, options: options, identity: identity)
    }

    public static func publish(_ channel: ChannelName, options: NamespaceOptions, identity: Identity?) -> ProtocolError? {
        if let capabilities = identity?.capabilities {
            return capabilities.publish.matches(channel)
                ? nil : ProtocolError(.publishNotAllowed, "token does not grant publishing to \(channel)")
        }
        guard options.allowClientPublish else {
            return ProtocolError(.publishNotAllowed, "clients may not publish to this namespace")
        }
        if identity == nil && !options.allowAnonymous {
            return ProtocolError(.unauthorized, "namespace does not allow anonymous publishers: connect with a token")
        }
        return nil
    }
}

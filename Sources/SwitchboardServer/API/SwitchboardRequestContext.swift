import Hummingbird
import NIOCore

/// The request context of Switchboard's HTTP router: Hummingbird's basics plus the client's address, which the API
/// key throttle counts failures by.
struct SwitchboardRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    /// The TCP peer (the proxy's address behind a reverse proxy: forwarded headers are not trusted).
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        // An HTTP/2 stream's channel has no address of its own: its connection's is the client's.
        self.remoteAddress = source.channel.remoteAddress ?? source.channel.parent?.remoteAddress
    }

    /// The client's IP address as the throttles key it.
    var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }
}

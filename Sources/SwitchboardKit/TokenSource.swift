extension Switchboard {
    /// Where the client gets its connection token.
    ///
    /// A fixed token is sent as it is on every connection. A provider is asked before the first connection, again
    /// when the server refuses the token (close 4501 or 4502: the client then reconnects with the new one instead of
    /// stopping), and when the server says the token expired (the `refresh` push): the new token is then sent in band,
    /// as the `refresh` command on the open connection, which keeps its subscriptions (protocol.md §4.3). A provider
    /// that throws ends every subscription with ``ClientError/Code/tokenProviderFailed``.
    public struct TokenSource: Sendable {
        enum Source: Sendable {
            case fixed(String?)
            case provider(@Sendable () async throws -> String?)
        }

        let source: Source

        /// The same token on every connection; nil connects anonymously.
        public static func fixed(_ token: String?) -> TokenSource { TokenSource(source: .fixed(token)) }

        /// Asks `provider` for a token when one is needed; it returns nil for an anonymous connection.
        public static func provider(_ provider: @escaping @Sendable () async throws -> String?) -> TokenSource {
            TokenSource(source: .provider(provider))
        }
    }
}

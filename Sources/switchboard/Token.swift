import ArgumentParser
import Foundation
import SwitchboardCore
import SwitchboardServer

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mint a development token signed with the configured HMAC secret (auth.hmac_secret).",
        discussion: """
            Prints an HS256 JWT. Pass it in the WebSocket `connect` command, as `Authorization: Bearer`, the \
            `switchboard_token` cookie or `?token=`. Example: switchboard token --sub alice --subscribe 'chat:*' \
            --publish 'chat:*'. Capabilities make the token a closed list of what it allows (docs/security.md).
            """
    )

    @Option(name: .long, help: "User id (the `sub` claim); empty mints an anonymous token.")
    var sub: String

    @Option(name: .long, help: "Lifetime in seconds (0: no `exp`, refused unless auth.require_expiry is false).")
    var ttl: Int = 3600

    @Option(name: .long, help: "Channel pattern the token may subscribe to (repeatable; `chat:*` is a prefix).")
    var subscribe: [String] = []

    @Option(name: .long, help: "Channel pattern the token may publish to (repeatable).")
    var publish: [String] = []

    @Option(name: .long, help: "Channel pattern whose presence the token may see (repeatable).")
    var presence: [String] = []

    @Option(name: .long, help: "Mint a subscription token for this one channel instead of a connection token.")
    var channel: String?

    @Option(name: .long, help: "Make the token single-use with this `jti`.")
    var once: String?

    @Option(name: .long, help: "Give the token this `jti`, which `POST /api/revoke` can revoke.")
    var id: String?

    @OptionGroup var settings: ConfigurationOptions

    func run() async throws {
        let configuration = try settings.resolveOrExit()
        guard let secret = configuration.auth.hmacSecret else {
            throw ValidationError("no HMAC secret: set SWITCHBOARD_AUTH_HMAC_SECRET (32+ bytes) or auth.hmac_secret, as the server does")
        }
        guard ttl >= 0 else { throw ValidationError("--ttl must not be negative") }
        let capabilities =
            subscribe.isEmpty && publish.isEmpty && presence.isEmpty
            ? nil
            : Capabilities(
                subscribe: subscribe.map(ChannelPattern.init), publish: publish.map(ChannelPattern.init), presence: presence.map(ChannelPattern.init)
            )
        let token = try await TokenMinter(hmacSecret: secret).mint(
            subject: sub, lifetime: ttl == 0 ? nil : .seconds(ttl), capabilities: capabilities, channel: channel,
            audience: configuration.auth.audience, issuer: configuration.auth.issuer, singleUseID: once, tokenID: id
        )
        Output.line(token)
    }
}

public import Foundation

/// One parser that reads bytes a client (or an operator's file) controls, as a libFuzzer target: each run gets
/// arbitrary bytes and must neither crash nor break the invariant the target states.
///
/// The same functions run in three places: the libFuzzer binary (`switchboard-fuzz`, built by `scripts/fuzz.sh` with
/// `-sanitize=fuzzer,address`), the committed seed corpus replayed by the Swift test suite (`FuzzCorpusTests`), and
/// any crash input added to the corpus as a regression test.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case json
    case command
    case messagepack
    case websocketFrames = "websocket-frames"
    case utf8
    case permessageDeflate = "permessage-deflate"
    case inflate
    case lastEventID = "last-event-id"
    case channelName = "channel-name"
    case requestTarget = "request-target"
    case jwt
    case configuration
    case storedReceipt = "stored-receipt"
    case yjsUpdate = "yjs-update"

    /// Runs the target on one input; throws when an invariant broke (a crash or a sanitizer report ends the process).
    public func run(_ input: Data) throws(FuzzFinding) {
        switch self {
        case .json: try JSONTargets.json(input)
        case .command: try JSONTargets.command(input)
        case .messagepack: try JSONTargets.messagePack(input)
        case .websocketFrames: try WireTargets.webSocketFrames(input)
        case .utf8: try WireTargets.utf8(input)
        case .permessageDeflate: try WireTargets.perMessageDeflateOffers(input)
        case .inflate: try WireTargets.inflate(input)
        case .lastEventID: try HTTPTargets.lastEventID(input)
        case .channelName: try HTTPTargets.channelName(input)
        case .requestTarget: try HTTPTargets.requestTarget(input)
        case .jwt: try TokenTargets.jwt(input)
        case .configuration: try ConfigurationTargets.yaml(input)
        case .storedReceipt: try ConfigurationTargets.storedReceipt(input)
        case .yjsUpdate: try YjsTargets.update(input)
        }
    }
}

/// An input that broke a target's invariant (not a mere refusal: refusing garbage is the parser's job).
public struct FuzzFinding: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Fails the run with `message` unless `condition` holds.
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(FuzzFinding) {
    if !condition { throw FuzzFinding(message()) }
}

extension Data {
    /// The input as text, when it is UTF-8 (string parsers only ever see decoded text).
    var utf8Text: String? { String(data: self, encoding: .utf8) }
}

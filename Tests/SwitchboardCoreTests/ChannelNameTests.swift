import Testing

@testable import SwitchboardCore

private func isValid(_ raw: String) -> Bool {
    (try? ChannelName(validating: raw)) != nil
}

/// Channel name grammar: optional `[a-z0-9][a-z0-9_-]{0,31}:` namespace, then `A-Z a-z 0-9 _ - . : @ =`, ≤ 255 bytes.
struct ChannelNameTests {
    @Test func aPlainNameHasNoNamespace() throws {
        let name = try ChannelName(validating: "lobby")
        #expect(name.rawValue == "lobby")
        #expect(name.namespace == nil)
        #expect(name.description == "lobby")
    }

    @Test func theNamespaceIsThePartBeforeTheFirstColon() throws {
        let name = try ChannelName(validating: "chat:room-1")
        #expect(name.namespace == "chat")
        #expect(name.rawValue == "chat:room-1")
    }

    @Test func colonsAfterTheNamespaceBelongToTheName() throws {
        let name = try ChannelName(validating: "chat:a:b:c")
        #expect(name.namespace == "chat")
        #expect(name.rawValue == "chat:a:b:c")
    }

    @Test func everyAllowedPunctuationCharacterIsAccepted() {
        #expect(isValid("ns:AZaz09_-.:@="))
        #expect(isValid("user@example.com=x_y-z.w"))
    }

    @Test func anEmptyNameIsRefused() {
        #expect(throws: ChannelNameError.self) { try ChannelName(validating: "") }
    }

    @Test func aNamespaceWithNothingAfterItIsRefused() {
        #expect(!isValid("chat:"))
    }

    @Test func anEmptyNamespaceIsRefused() {
        #expect(!isValid(":room"))
    }

    @Test func aNamespaceMustStartWithALowercaseLetterOrDigit() {
        #expect(isValid("9lives:x"))
        #expect(!isValid("_chat:x"))
        #expect(!isValid("-chat:x"))
        #expect(!isValid("Chat:x"))
    }

    @Test func aNamespaceMayContainUnderscoresAndHyphensAfterItsFirstCharacter() {
        #expect(isValid("a_b-c:x"))
    }

    @Test func aNamespaceMayNotContainUppercaseOrPunctuation() {
        #expect(!isValid("chAt:x"))
        #expect(!isValid("ch.at:x"))
        #expect(!isValid("ch@t:x"))
    }

    @Test func aNamespaceOfThirtyTwoBytesIsTheLongestAccepted() throws {
        let namespace = String(repeating: "n", count: 32)
        let name = try ChannelName(validating: namespace + ":x")
        #expect(name.namespace.map(String.init) == namespace)
        #expect(!isValid(String(repeating: "n", count: 33) + ":x"))
    }

    @Test func aNameOfTwoHundredFiftyFiveBytesIsAccepted() {
        #expect(isValid(String(repeating: "a", count: 255)))
        #expect(isValid("ns:" + String(repeating: "a", count: 252)))
    }

    @Test func aNameLongerThanTwoHundredFiftyFiveBytesIsRefused() {
        #expect(!isValid(String(repeating: "a", count: 256)))
        #expect(!isValid("ns:" + String(repeating: "a", count: 253)))
    }

    @Test func urlSignificantCharactersAreRefused() {
        for bad in ["a/b", "a?b", "a#b", "a%20b", "a b", "a+b", "a&b", "a\"b", "a\\b", "a\u{0}b", "a\nb"] {
            #expect(!isValid(bad), "\(bad.debugDescription) should be refused")
        }
    }

    @Test func nonASCIICharactersAreRefused() {
        #expect(!isValid("café"))
        #expect(!isValid("ns:日本"))
        #expect(!isValid("ns:😀"))
    }

    @Test func refusalsCarryAReason() {
        do {
            _ = try ChannelName(validating: "a/b")
            Issue.record("expected a refusal")
        } catch {
            #expect(!error.reason.isEmpty)
            #expect(error.description == error.reason)
        }
    }

    @Test func namesWithTheSameTextAreEqualAndHashAlike() throws {
        let a = try ChannelName(validating: "chat:x")
        let b = try ChannelName(validating: String("chat:x"))
        #expect(a == b)
        #expect(Set([a, b]).count == 1)
        #expect(a != (try ChannelName(validating: "chat:y")))
    }
}

import Testing

@testable import SwitchboardCore

/// The reconnect rule clients follow on close, and which codes a peer may send.
struct CloseCodeTests {
    @Test func applicationCodesBelow4500MeanReconnect() {
        for raw: UInt16 in [4000, 4001, 4002, 4003, 4250, 4499] {
            #expect(CloseCode(raw, "").reconnect, "\(raw)")
        }
    }

    @Test func applicationCodesFrom4500MeanDoNotReconnect() {
        for raw: UInt16 in [4500, 4501, 4750, 4999] {
            #expect(!CloseCode(raw, "").reconnect, "\(raw)")
        }
    }

    @Test func transientStandardCodesMeanReconnect() {
        for raw: UInt16 in [1001, 1006, 1011, 1012, 1013] {
            #expect(CloseCode(raw, "").reconnect, "\(raw)")
        }
    }

    @Test func finalStandardCodesMeanDoNotReconnect() {
        for raw: UInt16 in [1000, 1002, 1003, 1007, 1008, 1009, 1010] {
            #expect(!CloseCode(raw, "").reconnect, "\(raw)")
        }
    }

    @Test func codesOutsideBothRulesMeanDoNotReconnect() {
        for raw: UInt16 in [0, 999, 1004, 1005, 1014, 1015, 2000, 3000, 3999, 5000] {
            #expect(!CloseCode(raw, "").reconnect, "\(raw)")
        }
    }

    @Test func theServersOwnCodesFollowTheRule() {
        #expect(CloseCode.shutdown.reconnect)
        #expect(CloseCode.slowConsumer.reconnect)
        #expect(CloseCode.heartbeatTimeout.reconnect)
        #expect(CloseCode.internalError.reconnect)
        #expect(!CloseCode.badProtocol.reconnect)
        #expect(!CloseCode.normal.reconnect)
        #expect(!CloseCode.protocolError.reconnect)
        #expect(!CloseCode.unsupportedData.reconnect)
        #expect(!CloseCode.policyViolation.reconnect)
        #expect(!CloseCode.invalidPayload.reconnect)
        #expect(!CloseCode.messageTooLarge.reconnect)
    }

    @Test func theServersOwnCodesHaveTheirRFCNumbers() {
        #expect(CloseCode.normal.rawValue == 1000)
        #expect(CloseCode.protocolError.rawValue == 1002)
        #expect(CloseCode.unsupportedData.rawValue == 1003)
        #expect(CloseCode.invalidPayload.rawValue == 1007)
        #expect(CloseCode.policyViolation.rawValue == 1008)
        #expect(CloseCode.messageTooLarge.rawValue == 1009)
        #expect(CloseCode.internalError.rawValue == 1011)
    }

    @Test func descriptionIsCodeThenReason() {
        #expect(CloseCode.heartbeatTimeout.description == "4003 heartbeat timeout")
    }

    @Test func peersMaySendTheDefinedStandardCodes() {
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011] {
            #expect(CloseCode.isValidFromPeer(code), "\(code)")
        }
    }

    @Test func peersMaySendRegisteredAndPrivateCodes() {
        for code: UInt16 in [3000, 3999, 4000, 4999] {
            #expect(CloseCode.isValidFromPeer(code), "\(code)")
        }
    }

    @Test func peersMayNotSendReservedOrUnassignedCodes() {
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1012, 1015, 1016, 1100, 2000, 2999, 5000, UInt16.max] {
            #expect(!CloseCode.isValidFromPeer(code), "\(code)")
        }
    }
}

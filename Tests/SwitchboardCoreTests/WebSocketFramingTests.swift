import NIOCore
import SwitchboardCore
import Testing

struct WebSocketFramingTests {
    @Test(arguments: [(0, 2), (125, 2), (126, 4), (65_535, 4), (65_536, 10)])
    func headerGrowsWithThePayloadLength(length: Int, headerBytes: Int) {
        let frame = WebSocketFraming.frame(ByteBuffer(repeating: 0x61, count: length), opcode: .text)
        #expect(frame.readableBytes == headerBytes + length)
        #expect(WebSocketFraming.headerSize(payloadLength: length) == headerBytes)
    }

    @Test func aShortTextFrameIsFinalUnmaskedAndCarriesItsLengthInOneByte() {
        let frame = WebSocketFraming.frame(ByteBuffer(string: "Hello"), opcode: .text)
        #expect(Array(frame.readableBytesView) == [0x81, 0x05] + Array("Hello".utf8))
    }

    @Test func lengthsFrom126UpUseTheExtendedLengthFieldsInNetworkOrder() {
        let medium = WebSocketFraming.frame(ByteBuffer(repeating: 0, count: 300), opcode: .binary)
        #expect(Array(medium.readableBytesView.prefix(4)) == [0x82, 126, 0x01, 0x2C])
        let large = WebSocketFraming.frame(ByteBuffer(repeating: 0, count: 70_000), opcode: .binary)
        #expect(Array(large.readableBytesView.prefix(10)) == [0x82, 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70])
    }

    @Test func aCompressedMessageSetsRSV1() {
        let frame = WebSocketFraming.frame(ByteBuffer(bytes: [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]), opcode: .text, compressed: true)
        #expect(Array(frame.readableBytesView.prefix(2)) == [0xC1, 0x07])
    }

    @Test func controlFramesCarryTheirOpcodes() {
        #expect(WebSocketFraming.frame(ByteBuffer(), opcode: .ping).readableBytesView.first == 0x89)
        #expect(WebSocketFraming.frame(ByteBuffer(), opcode: .pong).readableBytesView.first == 0x8A)
        #expect(WebSocketFraming.frame(ByteBuffer(bytes: [0x03, 0xE8]), opcode: .close).readableBytesView.first == 0x88)
    }

    @Test func aClientHeaderSetsTheMaskBitAndCarriesItsKeyAfterTheLength() {
        var header = ByteBuffer()
        WebSocketFraming.writeHeader(into: &header, firstByte: 0x81, maskingKey: 0x0102_0304, payloadLength: 300)
        #expect(Array(header.readableBytesView) == [0x81, 0x80 | 126, 0x01, 0x2C, 0x01, 0x02, 0x03, 0x04])
        #expect(WebSocketFraming.headerSize(payloadLength: 300, masked: true) == header.readableBytes)
        var short = ByteBuffer()
        WebSocketFraming.writeHeader(into: &short, firstByte: 0x0A, maskingKey: 0, payloadLength: 5)
        #expect(Array(short.readableBytesView) == [0x0A, 0x85, 0, 0, 0, 0])
    }
}

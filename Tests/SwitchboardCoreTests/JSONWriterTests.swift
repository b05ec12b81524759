import NIOCore
import SwitchboardCore
import Testing

private func written(_ build: (inout JSONWriter) -> Void) -> String {
    var writer = JSONWriter()
    build(&writer)
    return String(buffer: writer.buffer)
}

struct JSONWriterTests {
    @Test func placesCommasAutomatically() {
        let json = written { w in
            w.beginObject()
            w.key("a")
            w.int(1)
            w.key("b")
            w.beginArray()
            w.int(1)
            w.int(2)
            w.endArray()
            w.endObject()
        }
        #expect(json == #"{"a":1,"b":[1,2]}"#)
    }

    @Test func separatesContainersThatFollowOtherElements() {
        let json = written { w in
            w.beginArray()
            w.beginArray()
            w.endArray()
            w.beginObject()
            w.endObject()
            w.beginArray()
            w.null()
            w.beginObject()
            w.key("x")
            w.beginArray()
            w.endArray()
            w.key("y")
            w.beginObject()
            w.endObject()
            w.endObject()
            w.endArray()
            w.string("s")
            w.endArray()
        }
        #expect(json == #"[[],{},[null,{"x":[],"y":{}}],"s"]"#)
    }

    @Test func writesEmptyContainers() {
        #expect(
            written {
                $0.beginObject(); $0.endObject()
            } == "{}")
        #expect(
            written {
                $0.beginArray(); $0.endArray()
            } == "[]")
    }

    @Test func escapesQuotesAndBackslashes() {
        #expect(written { $0.string(#"say "hi" \o/"#) } == #""say \"hi\" \\o/""#)
    }

    @Test func escapesControlCharactersWithShortFormsWhereTheyExist() {
        #expect(written { $0.string("\n\r\t\u{08}\u{0C}") } == #""\n\r\t\b\f""#)
    }

    @Test func escapesOtherControlCharactersAsUnicodeEscapes() {
        #expect(written { $0.string("\u{00}\u{01}\u{1B}\u{1F}") } == #""\u0000\u0001\u001b\u001f""#)
    }

    @Test func leavesSlashDeleteAndNonASCIIUnescaped() {
        #expect(written { $0.string("a/b\u{7F}é😀\u{2028}") } == "\"a/b\u{7F}é😀\u{2028}\"")
    }

    @Test func escapesKeysLikeStrings() {
        #expect(
            written {
                $0.beginObject(); $0.key("a\"\n"); $0.null(); $0.endObject()
            } == #"{"a\"\n":null}"#)
    }

    @Test(arguments: [0, 1, -1, 9, 10, -10, 1_234_567_890, Int64.max, Int64.min])
    func writesSignedIntegers(value: Int64) {
        #expect(written { $0.int(value) } == String(value))
    }

    @Test func writesPlatformIntegers() {
        #expect(written { $0.int(Int.min) } == String(Int.min))
    }

    @Test(arguments: [0, 1, 99, 100, UInt64.max])
    func writesUnsignedIntegers(value: UInt64) {
        #expect(written { $0.uint(value) } == String(value))
    }

    @Test func writesBooleansAndNull() {
        #expect(
            written { w in
                w.beginArray(); w.bool(true); w.bool(false); w.null(); w.endArray()
            } == "[true,false,null]")
    }

    @Test func writesRawJSONVerbatim() {
        let data = ByteBuffer(string: #"{"x": [1, 2]}"#)
        #expect(
            written { w in
                w.beginArray(); w.raw(data); w.raw(data); w.endArray()
            } == #"[{"x": [1, 2]},{"x": [1, 2]}]"#)
    }

    @Test func appendsToTheGivenBuffer() {
        var writer = JSONWriter(buffer: ByteBuffer(string: "data: "))
        writer.beginArray()
        writer.endArray()
        #expect(String(buffer: writer.buffer) == "data: []")
    }

    @Test func writesFieldsWithTheConvenienceHelpers() {
        let json = written { w in
            w.beginObject()
            w.field("s", string: "x")
            w.field("i", int: -5)
            w.field("l", int: Int64(6))
            w.field("u", uint: 7)
            w.field("b", bool: true)
            w.field("r", raw: ByteBuffer(string: "[1]"))
            w.nullField("n")
            w.endObject()
        }
        #expect(json == #"{"s":"x","i":-5,"l":6,"u":7,"b":true,"r":[1],"n":null}"#)
    }

    @Test(arguments: ["", "plain", "quote\" back\\slash", "\u{00}\u{1F}\n\t", "é€😀𝄞", "mixed \u{01}é\"😀\\"])
    func writesStringsThatDecodeBackToTheOriginal(value: String) {
        var writer = JSONWriter()
        writer.string(value)
        #expect(JSONScanner.decodeString(writer.buffer) == value)
    }

    @Test func writesDocumentsTheScannerAccepts() throws {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("id", int: 1)
        writer.key("list")
        writer.beginArray()
        writer.string("\u{7}")
        writer.uint(UInt64.max)
        writer.endArray()
        writer.endObject()
        #expect(try JSONScanner.validateAndMinify(writer.buffer) == writer.buffer)
    }
}

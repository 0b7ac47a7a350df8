import NIOCore
import Testing

@testable import Gateway

extension LineSplitter {
    /// Byte arrays in and out.
    fileprivate mutating func append(_ bytes: [UInt8]) -> [[UInt8]] {
        append(ByteBuffer(bytes: bytes)).map { Array($0.readableBytesView) }
    }

    /// The last line when the stream ended without "\n".
    fileprivate mutating func finish() -> [UInt8]? {
        finishBuffer().map { Array($0.readableBytesView) }
    }
}

@Suite struct LineSplitterTests {
    @Test func linesSplitOnNewline_acrossChunks_withCarriageReturnDropped() {
        var splitter = LineSplitter(maxLength: 100)
        #expect(splitter.append(Array("one\r\ntw".utf8)) == [Array("one".utf8)])
        #expect(splitter.append(Array("o\nthree".utf8)) == [Array("two".utf8)])
        #expect(splitter.finish() == Array("three".utf8))
        #expect(splitter.finish() == nil)
    }

    @Test func overlongLines_comeInPiecesOfTheLimit() {
        var splitter = LineSplitter(maxLength: 4)
        #expect(
            splitter.append(Array("abcdefghij\n".utf8)) == [Array("abcd".utf8), Array("efgh".utf8), Array("ij".utf8)])
    }

    @Test func invalidUTF8Lines_becomeBinaryMessages() {
        #expect(ProcessIO.message([0x68, 0x69]) == .text("hi"))
        #expect(ProcessIO.message([0xFF, 0x00]) == .binary([0xFF, 0x00]))
    }
}

import NIOCore
import Testing

@testable import RedisClient

private func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }
private func bulk(_ text: String) -> RESPValue { .bulkString(ByteBuffer(string: text)) }

/// Feeds `input` in chunks of the given sizes (cycled) and collects every reply.
private func parse(_ input: ByteBuffer, chunks: [Int], parser: RESPParser = RESPParser()) throws -> [RESPValue] {
    var parser = parser
    var input = input
    var replies: [RESPValue] = []
    var step = 0
    while input.readableBytes > 0 {
        let size = min(max(chunks[step % chunks.count], 1), input.readableBytes)
        step += 1
        parser.append(input.readSlice(length: size) ?? ByteBuffer())
        while let reply = try parser.next() { replies.append(reply) }
    }
    return replies
}

/// Chunkings every case is parsed with: whole, byte by byte, and a few uneven patterns.
private let chunkings: [[Int]] = [[Int.max], [1], [2], [3, 1, 7], [5, 11, 2, 64], [13]]

@Suite struct RESPParserTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var wire: [UInt8]
        var expected: [RESPValue]
        var testDescription: String { name }

        init(_ name: String, _ wire: String, _ expected: [RESPValue]) {
            self.init(name, Array(wire.utf8), expected)
        }

        init(_ name: String, _ wire: [UInt8], _ expected: [RESPValue]) {
            self.name = name
            self.wire = wire
            self.expected = expected
        }
    }

    static let cases: [Case] = [
        Case("simple string", "+OK\r\n", [.simpleString("OK")]),
        Case("error", "-ERR unknown command 'FOO'\r\n", [.error("ERR unknown command 'FOO'")]),
        Case("integers", ":0\r\n:-42\r\n:9223372036854775807\r\n", [.integer(0), .integer(-42), .integer(.max)]),
        Case("smallest integer", ":-9223372036854775807\r\n", [.integer(-Int64.max)]),
        Case("bulk string", "$5\r\nhello\r\n", [bulk("hello")]),
        Case("empty bulk string", "$0\r\n\r\n", [bulk("")]),
        Case("nil bulk string", "$-1\r\n", [.null]),
        Case("nil array", "*-1\r\n", [.null]),
        Case("empty array", "*0\r\n", [.array([])]),
        Case(
            "bulk with CR LF and binary bytes inside",
            Array("$6\r\n".utf8) + [0x0D, 0x0A, 0x00, 0xFF, 0x24, 0x2A] + Array("\r\n".utf8),
            [.bulkString(ByteBuffer(bytes: [0x0D, 0x0A, 0x00, 0xFF, 0x24, 0x2A]))]
        ),
        Case(
            "array of mixed values",
            "*5\r\n:1\r\n$3\r\nfoo\r\n$-1\r\n+OK\r\n-ERR no\r\n",
            [.array([.integer(1), bulk("foo"), .null, .simpleString("OK"), .error("ERR no")])]
        ),
        Case(
            "nested arrays (an XRANGE reply)",
            "*2\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nm\r\n$2\r\nhi\r\n*2\r\n$3\r\n2-0\r\n*0\r\n",
            [
                .array([
                    .array([bulk("1-0"), .array([bulk("m"), bulk("hi")])]),
                    .array([bulk("2-0"), .array([])]),
                ])
            ]
        ),
        Case(
            "arrays closing several levels at once",
            "*2\r\n*1\r\n*1\r\n:1\r\n:2\r\n",
            [.array([.array([.array([.integer(1)])]), .integer(2)])]
        ),
        Case(
            "pipelined replies in one read",
            "+OK\r\n:1\r\n$1\r\na\r\n*1\r\n:2\r\n",
            [.simpleString("OK"), .integer(1), bulk("a"), .array([.integer(2)])]
        ),
        Case(
            "pub/sub message",
            "*3\r\n$7\r\nmessage\r\n$4\r\nroom\r\n$2\r\nhi\r\n",
            [.array([bulk("message"), bulk("room"), bulk("hi")])]
        ),
    ]

    @Test(arguments: cases)
    func parses_inAnyChunking(_ testCase: Case) throws {
        for chunks in chunkings {
            let replies = try parse(ByteBuffer(bytes: testCase.wire), chunks: chunks)
            #expect(replies == testCase.expected, "chunks \(chunks)")
        }
    }

    @Test func randomChunkings_ofEveryCaseTogether_giveTheSameReplies() throws {
        let wire = Self.cases.flatMap(\.wire)
        let expected = Self.cases.flatMap(\.expected)
        var random = SplitMix64(seed: 14)
        for _ in 0..<50 {
            let chunks = (0..<16).map { _ in Int(random.next() % 9) + 1 }
            #expect(try parse(ByteBuffer(bytes: wire), chunks: chunks) == expected)
        }
    }

    @Test func incompleteReply_returnsNil_untilTheRestArrives() throws {
        var parser = RESPParser()
        parser.append(bytes("*2\r\n$3\r\nfo"))
        #expect(try parser.next() == nil)
        parser.append(bytes("o\r\n"))
        #expect(try parser.next() == nil)
        parser.append(bytes(":7\r\n+extra"))
        #expect(try parser.next() == .array([bulk("foo"), .integer(7)]))
        #expect(try parser.next() == nil)
        #expect(parser.bufferedBytes == 6)
    }

    @Test func claimedBulkLength_isNeverReserved_andFailsWhenPastTheLimit() throws {
        // A limit above the claim: the parser waits, holding only what arrived.
        var parser = RESPParser(maxReplySize: 3 << 30)
        parser.append(bytes("$2147483647\r\nabc"))
        #expect(try parser.next() == nil)
        #expect(parser.partialBulkCapacity < 4096)
        parser.append(ByteBuffer(repeating: 0x61, count: 100_000))
        #expect(try parser.next() == nil)
        #expect(parser.partialBulkCapacity < 1 << 20)

        // The default limit (64 MiB): the claim alone fails, with a clear error.
        var strict = RESPParser()
        strict.append(bytes("$2147483647\r\nabc"))
        #expect(throws: RESPParserError.replyTooLarge(limit: RESPParser.defaultMaxReplySize)) { try strict.next() }
        #expect(
            "\(RESPParserError.replyTooLarge(limit: 1024))" == "a Redis reply is larger than the limit of 1024 bytes")
    }

    @Test func bytesPastTheLimit_failTheReply_evenWhenEachPieceIsSmall() throws {
        var parser = RESPParser(maxReplySize: 1000)
        parser.append(bytes("*100\r\n"))
        #expect(try parser.next() == nil)
        for _ in 0..<30 { parser.append(bytes("$40\r\n" + String(repeating: "x", count: 40) + "\r\n")) }
        #expect(throws: RESPParserError.replyTooLarge(limit: 1000)) { try parser.next() }
    }

    @Test func claimedArrayLength_isNeverReserved() throws {
        var parser = RESPParser()
        parser.append(bytes("*2147483647\r\n"))
        #expect(throws: RESPParserError.replyTooLarge(limit: RESPParser.defaultMaxReplySize)) { try parser.next() }
        var roomy = RESPParser(maxReplySize: 1 << 40)
        roomy.append(bytes("*2147483647\r\n:1\r\n"))
        #expect(try roomy.next() == nil)
    }

    @Test func limitIsPerReply_soManySmallRepliesPass() throws {
        var parser = RESPParser(maxReplySize: 64)
        for _ in 0..<1000 { parser.append(bytes("$20\r\n" + String(repeating: "y", count: 20) + "\r\n")) }
        var count = 0
        while try parser.next() != nil { count += 1 }
        #expect(count == 1000)
    }

    @Test func deepNesting_fails() throws {
        var parser = RESPParser(maxDepth: 8)
        parser.append(bytes(String(repeating: "*1\r\n", count: 9) + ":1\r\n"))
        #expect(throws: RESPParserError.nestedTooDeep(limit: 8)) { try parser.next() }
        var fine = RESPParser(maxDepth: 8)
        fine.append(bytes(String(repeating: "*1\r\n", count: 8) + ":1\r\n"))
        #expect(try fine.next() != nil)
    }

    @Test func lineWithoutEnd_failsAtTheLineLimit() throws {
        var parser = RESPParser(maxReplySize: 100)
        parser.append(bytes("+" + String(repeating: "z", count: 99)))
        #expect(try parser.next() == nil)
        parser.append(bytes("zz"))
        #expect(throws: RESPParserError.lineTooLong(limit: 100)) { try parser.next() }
    }

    static let invalid: [(String, String)] = [
        ("$abc\r\n", "bulk string length 'abc' is not a number"),
        (":12x\r\n", "integer reply '12x' is not a number"),
        (":\r\n", "is not a number"),
        (":99999999999999999999\r\n", "is not a number"),
        (":9999999999999999999\r\n", "overflows 64 bits"),
        ("$-2\r\n", "bulk string length -2"),
        ("*-5\r\n", "array length -5"),
        ("?x\r\n", "unexpected type byte 0x3f"),
        ("%1\r\n", "RESP3"),
        ("$3\r\nabcd\r\n", "longer than its length"),
        ("+OK\rX\n", "carriage return without a line feed"),
        ("\r\n", "empty line"),
    ]

    @Test(arguments: invalid)
    func invalidInput_failsWithAClearError_andStaysFailed(_ input: String, _ message: String) throws {
        for chunks in chunkings {
            var parser = RESPParser()
            var buffer = bytes(input)
            var caught: RESPParserError?
            do {
                while buffer.readableBytes > 0 {
                    parser.append(buffer.readSlice(length: min(chunks[0], buffer.readableBytes)) ?? ByteBuffer())
                    while try parser.next() != nil {}
                }
            } catch {
                caught = error
            }
            let error = try #require(caught, "\(input.debugDescription) in chunks \(chunks)")
            #expect("\(error)".contains(message), "\(error)")
            parser.append(bytes("+OK\r\n"))
            #expect(throws: error) { try parser.next() }
        }
    }

    @Test func values_readAsTextNumbersAndArrays() {
        #expect(bulk("12").int == 12)
        #expect(RESPValue.integer(3).string == "3")
        #expect(RESPValue.null.string == nil)
        #expect(RESPValue.error("ERR x").errorMessage == "ERR x")
        #expect(RESPValue.array([.integer(1)]).array == [.integer(1)])
        #expect("\(RESPValue.array([bulk("a"), .null, .integer(2)]))" == "[\"a\", nil, :2]")
    }
}

/// A small deterministic generator, so random chunkings repeat.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

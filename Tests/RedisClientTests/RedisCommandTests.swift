import NIOCore
import Testing

@testable import RedisClient

@Suite struct RedisCommandTests {
    @Test func command_isAnArrayOfBulkStrings() {
        let command = RedisCommand("SET", "key", 42, ByteBuffer(bytes: [0, 0x0D, 0x0A]))
        #expect(String(buffer: command.encoded) == "*4\r\n$3\r\nSET\r\n$3\r\nkey\r\n$2\r\n42\r\n$3\r\n\0\r\n\r\n")
        #expect(command.name == "SET")
    }

    @Test func utf8Arguments_countBytesNotCharacters() {
        let command = RedisCommand("PUBLISH", "room", "héllo")
        #expect(String(buffer: command.encoded) == "*3\r\n$7\r\nPUBLISH\r\n$4\r\nroom\r\n$6\r\nhéllo\r\n")
    }

    @Test func encodedCommand_parsesBackToItsArguments() throws {
        var parser = RESPParser()
        parser.append(RedisCommand("XADD", "s", "*", "m", [UInt8](repeating: 7, count: 300)).encoded)
        let parsed = try #require(try parser.next()?.array)
        #expect(parsed.count == 5)
        #expect(parsed[4].bytes?.readableBytes == 300)
    }
}

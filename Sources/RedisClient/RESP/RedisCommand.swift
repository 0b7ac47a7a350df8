import NIOCore

/// A value that can be an argument of a Redis command (sent as a bulk string).
public protocol RESPArgument: Sendable {
    /// Appends the argument's bytes (without framing) to `buffer`.
    func writeArgument(into buffer: inout ByteBuffer)
}

extension String: RESPArgument {
    /// The UTF-8 bytes.
    public func writeArgument(into buffer: inout ByteBuffer) { buffer.writeString(self) }
}

extension Substring: RESPArgument {
    /// The UTF-8 bytes.
    public func writeArgument(into buffer: inout ByteBuffer) { buffer.writeSubstring(self) }
}

extension Int: RESPArgument {
    /// The decimal digits, as Redis expects numbers.
    public func writeArgument(into buffer: inout ByteBuffer) { buffer.writeString(String(self)) }
}

extension Int64: RESPArgument {
    /// The decimal digits, as Redis expects numbers.
    public func writeArgument(into buffer: inout ByteBuffer) { buffer.writeString(String(self)) }
}

extension UInt64: RESPArgument {
    /// The decimal digits, as Redis expects numbers.
    public func writeArgument(into buffer: inout ByteBuffer) { buffer.writeString(String(self)) }
}

extension ByteBuffer: RESPArgument {
    /// The readable bytes, unchanged.
    public func writeArgument(into buffer: inout ByteBuffer) {
        var copy = self
        buffer.writeBuffer(&copy)
    }
}

extension Array: RESPArgument where Element == UInt8 {
    /// The bytes, unchanged.
    public func writeArgument(into buffer: inout ByteBuffer) { buffer.writeBytes(self) }
}

/// A Redis command: its name and arguments, encoded as a RESP array of bulk strings.
///
/// ```swift
/// RedisCommand("SET", "greeting", "hello")
/// RedisCommand("INCRBY", "counter", 5)
/// ```
public struct RedisCommand: Sendable {
    /// The command encoded on the wire (`*N\r\n$len\r\narg\r\n…`).
    public private(set) var encoded: ByteBuffer
    /// The command's name as given (for errors and logs; never its arguments, which may be secrets).
    public let name: String

    /// A command from its name and arguments.
    public init(_ name: String, _ arguments: any RESPArgument...) {
        self.init(name, arguments: arguments)
    }

    /// A command from its name and an argument list.
    public init(_ name: String, arguments: [any RESPArgument]) {
        self.name = name
        var buffer = ByteBufferAllocator().buffer(capacity: 16 + name.utf8.count + arguments.count * 16)
        buffer.writeStaticString("*")
        buffer.writeString(String(arguments.count + 1))
        buffer.writeStaticString("\r\n")
        Self.writeBulk(name, into: &buffer)
        for argument in arguments { Self.writeBulk(argument, into: &buffer) }
        encoded = buffer
    }

    /// Writes `argument` as a bulk string: the length goes in front once the bytes are written, so
    /// an argument is never encoded twice to learn its size.
    private static func writeBulk(_ argument: any RESPArgument, into buffer: inout ByteBuffer) {
        var body = ByteBufferAllocator().buffer(capacity: 0)
        argument.writeArgument(into: &body)
        buffer.writeStaticString("$")
        buffer.writeString(String(body.readableBytes))
        buffer.writeStaticString("\r\n")
        buffer.writeBuffer(&body)
        buffer.writeStaticString("\r\n")
    }
}

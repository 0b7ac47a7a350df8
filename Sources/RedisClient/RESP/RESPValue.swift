import NIOCore

/// One RESP2 value: a reply from Redis, or an element of one.
///
/// Bulk strings stay bytes (`ByteBuffer`): Redis values are binary-safe and most of them are never
/// read as text. Both RESP2 nils (`$-1` and `*-1`) are ``null``.
public enum RESPValue: Sendable, Hashable {
    /// `+OK`: a short status line.
    case simpleString(String)
    /// `-ERR …`: an error reply, the whole line (`"NOSCRIPT No matching script…"`).
    case error(String)
    /// `:42`.
    case integer(Int64)
    /// `$3\r\nfoo`: binary-safe bytes.
    case bulkString(ByteBuffer)
    /// `*2\r\n…`: nested values.
    case array([RESPValue])
    /// `$-1` or `*-1`.
    case null

    /// The value as text: simple and bulk strings (bulk decoded as UTF-8, invalid bytes repaired),
    /// integers in decimal; nil for the rest.
    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let bytes): String(buffer: bytes)
        case .integer(let number): String(number)
        case .error, .array, .null: nil
        }
    }

    /// The value as a number: integers, and strings holding a decimal integer; nil for the rest.
    public var int: Int64? {
        switch self {
        case .integer(let number): number
        case .simpleString, .bulkString: string.flatMap { Int64($0) }
        case .error, .array, .null: nil
        }
    }

    /// The elements of an array; nil for anything else (a nil array included).
    public var array: [RESPValue]? {
        if case .array(let elements) = self { elements } else { nil }
    }

    /// The bytes of a bulk string; nil for anything else.
    public var bytes: ByteBuffer? {
        if case .bulkString(let bytes) = self { bytes } else { nil }
    }

    /// The message of an error reply; nil for anything else.
    public var errorMessage: String? {
        if case .error(let message) = self { message } else { nil }
    }
}

extension RESPValue: CustomStringConvertible {
    /// A short, readable form for logs and test failures (bulk strings as text, quoted).
    public var description: String {
        switch self {
        case .simpleString(let text): "+\(text)"
        case .error(let message): "-\(message)"
        case .integer(let number): ":\(number)"
        case .bulkString(let bytes): "\"\(String(buffer: bytes))\""
        case .array(let elements): "[" + elements.map(\.description).joined(separator: ", ") + "]"
        case .null: "nil"
        }
    }
}

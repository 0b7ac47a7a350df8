import NIOCore

/// Why bytes from a server are not a RESP2 reply; the connection that sent them cannot be trusted
/// for anything else and is closed.
public enum RESPParserError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One reply would exceed the parser's `maxReplySize` (a claimed length counts at once; bytes
    /// are only ever allocated as they arrive).
    case replyTooLarge(limit: Int)
    /// Arrays nested deeper than the parser's `maxDepth`.
    case nestedTooDeep(limit: Int)
    /// A line with no `\r\n` within the parser's line limit.
    case lineTooLong(limit: Int)
    /// Bytes that are not RESP2: what was wrong.
    case invalid(String)

    /// What went wrong, for logs and errors shown to users.
    public var description: String {
        switch self {
        case .replyTooLarge(let limit): "a Redis reply is larger than the limit of \(limit) bytes"
        case .nestedTooDeep(let limit): "a Redis reply nests arrays deeper than \(limit) levels"
        case .lineTooLong(let limit): "a Redis reply line has no end within \(limit) bytes"
        case .invalid(let what): "invalid RESP from the server: \(what)"
        }
    }
}

/// An incremental RESP2 parser: bytes in, whole replies out, in any chunking.
///
/// It keeps the partial reply between calls (the arrays being filled and the bulk string being
/// read), so a large reply arriving in many reads is parsed once, not again on each read. A length
/// the server claims is checked against ``maxReplySize`` and never reserved: bulk strings grow with
/// the bytes that arrive. After an error the parser stays failed.
///
/// ```swift
/// var parser = RESPParser()
/// parser.append(bytes)
/// while let reply = try parser.next() { … }
/// ```
public struct RESPParser: Sendable {
    /// Default ``maxReplySize``: 64 MiB.
    public static let defaultMaxReplySize = 64 << 20
    /// Default ``maxDepth``: 64 levels of nested arrays.
    public static let defaultMaxDepth = 64

    /// The largest reply, in bytes on the wire, before ``RESPParserError/replyTooLarge(limit:)``.
    public let maxReplySize: Int
    /// The deepest array nesting before ``RESPParserError/nestedTooDeep(limit:)``.
    public let maxDepth: Int
    /// The longest status, error or length line.
    private let maxLineLength: Int

    private struct PartialArray {
        var expected: Int
        var elements: [RESPValue] = []
    }

    private struct PartialBulk {
        /// Body bytes still to come (the final `\r\n` not included).
        var remaining: Int
        var body: ByteBuffer?
    }

    private var input: ByteBuffer?
    private var open: [PartialArray] = []
    private var bulk: PartialBulk?
    /// Wire bytes of the reply being parsed, so far.
    private var replySize = 0
    /// How many readable bytes were already searched for `\r\n` without finding it.
    private var scanned = 0
    private var failure: RESPParserError?

    /// A parser with the given limits (defaults: 64 MiB per reply, 64 levels).
    public init(maxReplySize: Int = Self.defaultMaxReplySize, maxDepth: Int = Self.defaultMaxDepth) {
        self.maxReplySize = max(maxReplySize, 16)
        self.maxDepth = max(maxDepth, 1)
        maxLineLength = min(self.maxReplySize, 1 << 20)
    }

    /// Bytes waiting to be parsed (those of a partial bulk string already taken are not counted).
    public var bufferedBytes: Int { input?.readableBytes ?? 0 }

    /// Bytes held for the bulk string being read (its capacity, for tests: it grows with arrivals).
    var partialBulkCapacity: Int { bulk?.body?.capacity ?? 0 }

    /// Adds bytes received from the server.
    public mutating func append(_ bytes: ByteBuffer) {
        guard bytes.readableBytes > 0 else { return }
        if var buffer = input, buffer.readableBytes > 0 {
            input = nil  // keep the buffer uniquely referenced while it grows
            var bytes = bytes
            buffer.writeBuffer(&bytes)
            input = buffer
        } else {
            input = bytes
        }
    }

    /// The next whole reply, or nil until more bytes arrive.
    public mutating func next() throws(RESPParserError) -> RESPValue? {
        if let failure { throw failure }
        do {
            return try parseNext()
        } catch {
            failure = error
            input = nil
            open = []
            bulk = nil
            throw error
        }
    }

    private mutating func parseNext() throws(RESPParserError) -> RESPValue? {
        guard var buffer = input else { return nil }
        input = nil
        defer { input = buffer.readableBytes > 0 ? buffer : nil }
        while true {
            let value: RESPValue?
            if bulk != nil {
                guard let body = try readBulkBody(&buffer) else { return nil }
                value = .bulkString(body)
            } else {
                guard let parsed = try readLineValue(&buffer) else { return nil }
                value = parsed
            }
            if let reply = complete(value) {
                replySize = 0
                return reply
            }
        }
    }

    /// Adds a finished value to the innermost open array; returns it (or the arrays it completes)
    /// when it finishes a whole reply.
    private mutating func complete(_ value: RESPValue?) -> RESPValue? {
        guard var value else { return nil }  // an array was opened: nothing finished yet
        while var innermost = open.popLast() {
            innermost.elements.append(value)
            if innermost.elements.count < innermost.expected {
                open.append(innermost)
                return nil
            }
            value = .array(innermost.elements)
        }
        return value
    }

    private mutating func count(_ bytes: Int) throws(RESPParserError) {
        replySize += bytes
        if replySize > maxReplySize { throw .replyTooLarge(limit: maxReplySize) }
    }

    /// Reads one line-started value; nil with nothing consumed until the line is complete.
    /// Returns `.some(nil)` when the line opened an array or a bulk string.
    private mutating func readLineValue(_ buffer: inout ByteBuffer) throws(RESPParserError) -> RESPValue?? {
        guard let lineLength = try findLineEnd(buffer) else { return nil }
        scanned = 0
        try count(lineLength + 2)
        guard let type = buffer.readInteger(as: UInt8.self) else { return nil }
        let body = buffer.readSlice(length: lineLength - 1) ?? ByteBuffer()
        buffer.moveReaderIndex(forwardBy: 2)
        switch type {
        case UInt8(ascii: "+"):
            return .some(.simpleString(String(buffer: body)))
        case UInt8(ascii: "-"):
            return .some(.error(String(buffer: body)))
        case UInt8(ascii: ":"):
            return .some(.integer(try Self.integer(body, what: "integer reply")))
        case UInt8(ascii: "$"):
            let length = try Self.integer(body, what: "bulk string length")
            if length == -1 { return .some(.null) }
            guard length >= 0 else { throw .invalid("bulk string length \(length)") }
            guard length <= Int64(maxReplySize - replySize) else { throw .replyTooLarge(limit: maxReplySize) }
            bulk = PartialBulk(remaining: Int(length))
            return .some(nil)
        case UInt8(ascii: "*"):
            let elements = try Self.integer(body, what: "array length")
            if elements == -1 { return .some(.null) }
            guard elements >= 0 else { throw .invalid("array length \(elements)") }
            if elements == 0 { return .some(.array([])) }
            // Every element takes at least 3 bytes on the wire ("+\r\n"); a claim beyond what the
            // limit allows fails now. Elements are appended as they arrive, never reserved.
            guard elements <= Int64(maxReplySize - replySize) / 3 else { throw .replyTooLarge(limit: maxReplySize) }
            guard open.count < maxDepth else { throw .nestedTooDeep(limit: maxDepth) }
            open.append(PartialArray(expected: Int(elements)))
            return .some(nil)
        default:
            let hint =
                "_,#%~>|=(!".utf8.contains(type) ? " (a RESP3 type; this client speaks RESP2)" : ""
            throw .invalid("unexpected type byte 0x\(String(type, radix: 16))\(hint)")
        }
    }

    /// The length of the line at the reader index without its `\r\n`; nil when it has not all arrived.
    private mutating func findLineEnd(_ buffer: ByteBuffer) throws(RESPParserError) -> Int? {
        let view = buffer.readableBytesView
        let start = view.index(view.startIndex, offsetBy: min(scanned, view.count))
        if let cr = view[start...].firstIndex(of: UInt8(ascii: "\r")) {
            let lf = view.index(after: cr)
            if lf < view.endIndex {
                guard view[lf] == UInt8(ascii: "\n") else { throw .invalid("a carriage return without a line feed") }
                let length = view.distance(from: view.startIndex, to: cr)
                guard length > 0 else { throw .invalid("an empty line where a reply should start") }
                guard length <= maxLineLength else { throw .lineTooLong(limit: maxLineLength) }
                return length
            }
        }
        if view.count > maxLineLength { throw .lineTooLong(limit: maxLineLength) }
        // Resume after what was searched, but look at a trailing '\r' again.
        scanned = max(view.count - 1, 0)
        return nil
    }

    /// Reads the body of the bulk string in progress; nil until all of it and its `\r\n` arrived.
    private mutating func readBulkBody(_ buffer: inout ByteBuffer) throws(RESPParserError) -> ByteBuffer? {
        guard var partial = bulk else { return nil }
        if partial.body == nil, buffer.readableBytes >= partial.remaining + 2 {
            // The common case: the whole body is here; a slice of the input, no copy.
            let body = buffer.readSlice(length: partial.remaining) ?? ByteBuffer()
            try count(partial.remaining)
            partial.remaining = 0
            partial.body = body
        } else if partial.remaining > 0 {
            let take = min(partial.remaining, buffer.readableBytes)
            guard take > 0, var chunk = buffer.readSlice(length: take) else { return nil }
            try count(take)
            var body = partial.body ?? ByteBufferAllocator().buffer(capacity: take)
            partial.body = nil
            body.writeBuffer(&chunk)
            partial.body = body
            partial.remaining -= take
        }
        guard partial.remaining == 0, buffer.readableBytes >= 2 else {
            bulk = partial
            return nil
        }
        guard buffer.readInteger(as: UInt16.self) == UInt16(0x0D0A) else {
            throw .invalid("a bulk string longer than its length")
        }
        try count(2)
        bulk = nil
        return partial.body ?? ByteBuffer()
    }

    /// A RESP decimal integer: an optional minus sign and 1 to 19 digits, no overflow.
    private static func integer(_ bytes: ByteBuffer, what: String) throws(RESPParserError) -> Int64 {
        let view = bytes.readableBytesView
        var digits = view[...]
        let negative = digits.first == UInt8(ascii: "-")
        if negative { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count <= 19 else {
            throw .invalid("\(what) '\(String(buffer: bytes).prefix(24))' is not a number")
        }
        var value: Int64 = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else {
                throw .invalid("\(what) '\(String(buffer: bytes).prefix(24))' is not a number")
            }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int64(digit - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw .invalid("\(what) overflows 64 bits") }
            value = sum
        }
        return negative ? -value : value
    }
}

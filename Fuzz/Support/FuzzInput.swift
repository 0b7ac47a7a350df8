import NIOCore

/// The bytes of one fuzz input, read front to back: choices first (limits, split points), the rest is
/// the data under test. Reading past the end yields zeros, so every input is a valid choice sequence.
public struct FuzzInput {
    /// All bytes of the input.
    public let bytes: [UInt8]
    private var index = 0

    /// Copies the input libFuzzer hands over (`start` may be nil when `count` is 0).
    public init(_ start: UnsafePointer<UInt8>?, _ count: Int) {
        bytes = start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    }

    /// Wraps bytes (for replaying an input outside libFuzzer).
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Bytes not read yet.
    public var remaining: ArraySlice<UInt8> { bytes[min(index, bytes.count)...] }

    /// The next byte, or 0 past the end.
    public mutating func byte() -> UInt8 {
        guard index < bytes.count else { return 0 }
        defer { index += 1 }
        return bytes[index]
    }

    /// The next two bytes as a big-endian number.
    public mutating func uint16() -> UInt16 {
        UInt16(byte()) << 8 | UInt16(byte())
    }

    /// The next `count` bytes, fewer at the end of the input.
    public mutating func take(_ count: Int) -> [UInt8] {
        let taken = Array(remaining.prefix(count))
        index += taken.count
        return taken
    }

    /// The rest of the input.
    public mutating func rest() -> [UInt8] {
        defer { index = bytes.count }
        return Array(remaining)
    }
}

/// A small deterministic generator (xorshift) for choices derived from one seed, such as where a stream
/// is split: the same input always gives the same splits, so a crash replays.
public struct SplitGenerator {
    private var state: UInt64

    /// A generator for `seed`; seed 0 is as good as any other.
    public init(seed: UInt64) {
        state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    }

    /// The next number in `1...upper` (`upper` at least 1).
    public mutating func next(upTo upper: Int) -> Int {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return Int(state % UInt64(max(1, upper))) + 1
    }

    /// Cuts `bytes` into consecutive chunks of 1 to `maxChunk` bytes.
    public mutating func chunks(of bytes: [UInt8], maxChunk: Int) -> [ArraySlice<UInt8>] {
        var result: [ArraySlice<UInt8>] = []
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + next(upTo: maxChunk))
            result.append(bytes[start..<end])
            start = end
        }
        return result
    }
}

/// Stops the process with a message when an invariant of a fuzz target does not hold; libFuzzer records
/// the input that got here as a crash.
public func fuzzCheck(
    _ condition: @autoclosure () -> Bool,
    _ message: @autoclosure () -> String,
    file: StaticString = #fileID,
    line: UInt = #line
) {
    if !condition() {
        fuzzFail(message(), file: file, line: line)
    }
}

/// Stops the process with a message (an invariant broke).
public func fuzzFail(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError("fuzz invariant broken: \(message)", file: file, line: line)
}

extension ByteBuffer {
    /// The readable bytes as an array (for comparisons in the targets).
    public var fuzzBytes: [UInt8] { Array(readableBytesView) }
}

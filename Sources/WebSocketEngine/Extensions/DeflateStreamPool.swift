import CompressNIO
import NIOPosix

/// zlib streams that carry no context from one message to the next, kept once per thread (the event
/// loops' threads) instead of once per session: a session borrows one for one message, synchronously,
/// and it is reset before the next borrower gets it. A session at rest then holds no zlib memory for
/// a direction without context takeover, however many messages it sent.
///
/// `@unchecked Sendable`: each instance lives in a thread-specific variable and is only ever used on
/// the thread that made it.
final class DeflateStreamPool: @unchecked Sendable {
    private struct CompressorKey: Hashable {
        var windowBits: Int
        var level: Int
        var memoryLevel: Int
    }

    private var compressors: [CompressorKey: ZlibCompressor] = [:]
    private var decompressors: [Int: ZlibDecompressor] = [:]

    private static let perThread = ThreadSpecificVariable<DeflateStreamPool>()

    /// The calling thread's pool.
    static var current: DeflateStreamPool {
        if let pool = perThread.currentValue { return pool }
        let pool = DeflateStreamPool()
        perThread.currentValue = pool
        return pool
    }

    /// A raw-deflate compressor with these settings, reset (no history).
    func compressor(windowBits: Int, level: Int, memoryLevel: Int) throws -> ZlibCompressor {
        let key = CompressorKey(windowBits: windowBits, level: level, memoryLevel: memoryLevel)
        if let existing = compressors[key] { return existing }
        let made = try PerMessageDeflate.makeCompressor(windowBits: windowBits, level: level, memoryLevel: memoryLevel)
        compressors[key] = made
        return made
    }

    /// A raw-inflate decompressor for windows up to `windowBits`, reset (no history).
    func decompressor(windowBits: Int) throws -> ZlibDecompressor {
        if let existing = decompressors[windowBits] { return existing }
        let made = try ZlibDecompressor(algorithm: .deflate, windowSize: Int32(windowBits))
        decompressors[windowBits] = made
        return made
    }
}

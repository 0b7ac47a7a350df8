import CompressNIO
import NIOCore

/// permessage-deflate (RFC 7692) for ``WebSocketOptions/extensions``.
///
/// ```swift
/// WebSocketOptions(extensions: [PerMessageDeflateFactory(PerMessageDeflateConfiguration(compressionLevel: 6))])
/// ```
public struct PerMessageDeflateFactory: WebSocketExtensionFactory {
    /// The settings it negotiates with.
    public let configuration: PerMessageDeflateConfiguration
    /// `permessage-deflate`.
    public var name: String { PerMessageDeflateNegotiation.name }

    /// Creates the factory.
    public init(_ configuration: PerMessageDeflateConfiguration = PerMessageDeflateConfiguration()) {
        self.configuration = configuration
    }

    /// Accepts the first offer that can be honoured and declines the rest.
    public func negotiate(offers: [WebSocketExtensionOffer]) -> (any WebSocketExtension)? {
        guard let agreement = PerMessageDeflateNegotiation.negotiate(offers: offers, configuration: configuration)
        else { return nil }
        return PerMessageDeflate(agreement: agreement, configuration: configuration)
    }
}

/// One session's permessage-deflate. A direction with context takeover has its own zlib stream, made
/// on first use (sessions that never send or receive a compressed message pay no zlib memory) and
/// sized to what was negotiated; a direction without context takeover borrows a stream of its thread's
/// ``DeflateStreamPool`` for each message, so it holds none at rest.
final class PerMessageDeflate: WebSocketExtension {
    let agreement: DeflateAgreement
    let configuration: PerMessageDeflateConfiguration
    let reservedBits: UInt8 = 0b100
    var response: WebSocketExtensionOffer { agreement.response }

    /// Without server context takeover, the compressed form of a message depends only on the message
    /// and these settings, so sessions that agree on them share it.
    var sharedEncodingKey: String? {
        guard agreement.serverNoContextTakeover else { return nil }
        return "permessage-deflate;level=\(configuration.compressionLevel);bits=\(agreement.serverMaxWindowBits)"
            + ";min=\(configuration.compressMinSize)"
    }

    private var compressor: ZlibCompressor?
    private var decompressor: ZlibDecompressor?
    private let allocator = ByteBufferAllocator()
    private static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    init(agreement: DeflateAgreement, configuration: PerMessageDeflateConfiguration) {
        self.agreement = agreement
        self.configuration = configuration
    }

    func encode(_ message: ByteBuffer, isText: Bool) throws -> (payload: ByteBuffer, reservedBits: UInt8) {
        // Messages too large for the compressor's worst-case output buffer go out uncompressed.
        guard message.readableBytes >= max(1, configuration.compressMinSize),
            message.readableBytes < EngineLimits.largestMessage
        else { return (message, 0) }
        let pooled = agreement.serverNoContextTakeover
        let compressor: ZlibCompressor
        if pooled {
            compressor = try DeflateStreamPool.current.compressor(
                windowBits: agreement.serverMaxWindowBits, level: level, memoryLevel: Self.pooledMemoryLevel)
        } else {
            compressor =
                try self.compressor
                ?? Self.makeCompressor(
                    windowBits: agreement.serverMaxWindowBits, level: level,
                    memoryLevel: max(1, min(9, configuration.memoryLevel)))
            self.compressor = compressor
        }
        // A pooled stream is left without history for the next borrower, whatever happens here.
        defer { if pooled { try? compressor.reset() } }
        var input = message
        var output = allocator.buffer(capacity: compressor.maxSize(from: input))
        try compressor.deflate(from: &input, to: &output, flush: .sync)
        // RFC 7692 §7.2.1: drop the 00 00 FF FF that ends a sync flush.
        if output.readableBytes >= 4,
            output.getBytes(at: output.writerIndex - 4, length: 4) == Self.tail
        {
            output.moveWriterIndex(to: output.writerIndex - 4)
        }
        return (output, reservedBits)
    }

    func decode(_ message: ByteBuffer, reservedBits: UInt8, maxSize: Int) throws -> ByteBuffer {
        let pooled = agreement.clientNoContextTakeover
        let decompressor: ZlibDecompressor
        if pooled {
            decompressor = try DeflateStreamPool.current.decompressor(windowBits: agreement.clientMaxWindowBits)
        } else {
            decompressor =
                try self.decompressor
                ?? ZlibDecompressor(algorithm: .deflate, windowSize: Int32(agreement.clientMaxWindowBits))
            self.decompressor = decompressor
        }
        defer { if pooled { try? decompressor.reset() } }
        var input = allocator.buffer(capacity: message.readableBytes + 4)
        var message = message
        input.writeBuffer(&message)
        input.writeBytes(Self.tail)
        // The output grows in steps and never past maxSize + 1 bytes: a small message that inflates to
        // gigabytes (a zip bomb) fails without the whole ever being allocated. `unlimited` (Int.max) is
        // the largest message the engine holds, so the buffer never grows past what a ByteBuffer can be.
        let maxSize = EngineLimits.effectiveMessageLimit(maxSize)
        let limit = maxSize + 1
        var output = allocator.buffer(capacity: min(limit, max(4096, input.readableBytes * 4)))
        var streamEnded = false
        while input.readableBytes > 0 {
            let before = (input.readableBytes, output.readableBytes)
            do {
                try decompressor.inflate(from: &input, to: &output)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                guard output.capacity < limit else { throw WebSocketExtensionError.messageTooBig }
                output.reserveCapacity(min(limit, output.capacity * 2))
                continue
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                break
            } catch {
                throw WebSocketExtensionError.invalidData("\(error)")
            }
            if before == (input.readableBytes, output.readableBytes) {
                // The deflate stream ended (a final block) before the input did.
                streamEnded = true
                break
            }
        }
        if output.readableBytes > maxSize { throw WebSocketExtensionError.messageTooBig }
        if !pooled && streamEnded { try decompressor.reset() }
        return output
    }

    private var level: Int { max(0, min(9, configuration.compressionLevel)) }

    /// zlib's memory level for pooled compressors: 8, zlib's default (one per thread, so its size
    /// does not matter).
    static let pooledMemoryLevel = 8

    static func makeCompressor(windowBits: Int, level: Int, memoryLevel: Int) throws -> ZlibCompressor {
        try ZlibCompressor(
            algorithm: .deflate,
            configuration: ZlibConfiguration(
                windowSize: Int32(windowBits),
                compressionLevel: Int32(level),
                memoryLevel: Int32(memoryLevel)
            )
        )
    }
}

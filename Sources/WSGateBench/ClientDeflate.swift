import CompressNIO
import NIOCore

/// The client's permessage-deflate (RFC 7692) with no client context takeover: each message is
/// compressed on its own (level 1, as gorilla/websocket's client does); the decompressor keeps its
/// window across messages unless the server agreed to `server_no_context_takeover`.
///
/// Confined to its connection's event loop (zlib streams are not thread-safe).
final class ClientDeflate {
    private let compressor: ZlibCompressor
    private let decompressor: ZlibDecompressor
    private let resetInflaterPerMessage: Bool
    private let allocator = ByteBufferAllocator()
    private static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    init(_ parameters: ClientHandshake.DeflateParameters) throws {
        compressor = try ZlibCompressor(
            algorithm: .deflate,
            configuration: ZlibConfiguration(windowSize: 15, compressionLevel: 1, memoryLevel: 8)
        )
        decompressor = try ZlibDecompressor(algorithm: .deflate, windowSize: 15)
        resetInflaterPerMessage = parameters.serverNoContextTakeover
    }

    /// The compressed payload of one message, without the 00 00 FF FF a sync flush ends with.
    func compress(_ message: ByteBuffer) throws -> ByteBuffer {
        var input = message
        var output = allocator.buffer(capacity: compressor.maxSize(from: input) + 8)
        try compressor.deflate(from: &input, to: &output, flush: .sync)
        if output.readableBytes >= 4, output.getBytes(at: output.writerIndex - 4, length: 4) == Self.tail {
            output.moveWriterIndex(to: output.writerIndex - 4)
        }
        try compressor.reset()
        return output
    }

    /// The restored payload of one compressed message, at most `maxSize` bytes.
    func decompress(_ payload: ByteBuffer, maxSize: Int) throws -> ByteBuffer {
        var input = allocator.buffer(capacity: payload.readableBytes + 4)
        var payload = payload
        input.writeBuffer(&payload)
        input.writeBytes(Self.tail)
        var output = allocator.buffer(capacity: max(256, min(maxSize, input.readableBytes * 4)))
        while input.readableBytes > 0 {
            let before = (input.readableBytes, output.readableBytes)
            do {
                try decompressor.inflate(from: &input, to: &output)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                guard output.capacity < maxSize else { throw ClientDeflateError.messageTooBig }
                output.reserveCapacity(min(maxSize, output.capacity * 2))
                continue
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                break
            }
            if before == (input.readableBytes, output.readableBytes) { break }
        }
        if resetInflaterPerMessage { try decompressor.reset() }
        return output
    }
}

enum ClientDeflateError: Error {
    case messageTooBig
}

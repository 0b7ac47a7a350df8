import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Closes a descriptor ``PlainHTTPFile`` owns.
func closeDescriptor(_ descriptor: Int32) {
    _ = close(descriptor)
}

/// Reads a file body in chunks on NIO's blocking-I/O thread pool, so a slow disk never holds up an
/// event loop. One chunk is in memory per response at a time: the next is read once the previous one
/// was written to the socket.
enum FileChunkReader {
    /// The bytes read (and written) at a time.
    static let chunkSize = 64 * 1024

    /// Why a chunk could not be read.
    struct ReadError: Error, CustomStringConvertible {
        let errno: Int32
        var description: String { "file read failed (errno \(errno))" }
    }

    /// Up to `count` bytes of `file` from `offset`; fewer only at its end (empty past it).
    static func read(
        _ file: PlainHTTPFile, offset: Int, count: Int, allocator: ByteBufferAllocator, eventLoop: any EventLoop
    ) -> EventLoopFuture<ByteBuffer> {
        NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) {
            var buffer = allocator.buffer(capacity: count)
            var total = 0
            while total < count {
                var got = 0
                buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count - total) { pointer in
                    got = pread(file.descriptor, pointer.baseAddress, count - total, off_t(offset + total))
                    return max(0, got)
                }
                if got < 0 {
                    let code = errno
                    if code == EINTR { continue }
                    throw ReadError(errno: code)
                }
                if got == 0 { break }
                total += got
            }
            return buffer
        }
    }
}

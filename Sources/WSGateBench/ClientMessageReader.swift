import NIOCore
import WebSocketEngine

/// Turns the server's bytes into whole messages and control frames: the engine's `FrameParser` in the
/// client role, fragments joined, compressed messages restored. Pure but for the zlib stream it holds.
struct ClientMessageReader {
    enum Event {
        case message(isText: Bool, payload: ByteBuffer)
        case ping(ByteBuffer)
        case pong
        /// The server's close frame, with its status code when it had one.
        case close(code: UInt16?)
    }

    enum Failure: Error, CustomStringConvertible {
        case protocolViolation(String)
        case tooBig(Int)

        var description: String {
            switch self {
            case .protocolViolation(let what): "protocol violation: \(what)"
            case .tooBig(let limit): "a message over \(limit) bytes"
            }
        }
    }

    private var parser: FrameParser
    private let deflate: ClientDeflate?
    private let maxMessageSize: Int
    private var frame: (opcode: Opcode, fin: Bool, payload: ByteBuffer?)?
    private var message: (isText: Bool, compressed: Bool, payload: ByteBuffer?)?

    init(deflate: ClientDeflate?, maxMessageSize: Int = 1 << 26) {
        parser = FrameParser(
            role: .client, maxFrameSize: maxMessageSize, allowedReservedBits: deflate == nil ? [] : .rsv1)
        self.deflate = deflate
        self.maxMessageSize = maxMessageSize
    }

    /// The next event from `buffer`, or nil when more bytes are needed.
    mutating func next(from buffer: inout ByteBuffer) throws(Failure) -> Event? {
        while true {
            let event: FrameParser.Event?
            do {
                event = try parser.next(from: &buffer)
            } catch {
                throw .protocolViolation("\(error)")
            }
            guard let event else { return nil }
            switch event {
            case .header(let header):
                frame = (header.opcode, header.fin, nil)
                switch header.opcode {
                case .text, .binary:
                    guard message == nil else { throw .protocolViolation("a new message inside a fragmented one") }
                    message = (header.opcode == .text, header.reserved.contains(.rsv1), nil)
                case .continuation:
                    guard message != nil else { throw .protocolViolation("a continuation without a message") }
                default:
                    break
                }
            case .payload(let chunk):
                guard let current = frame else { continue }
                if current.opcode.isControl {
                    frame = (current.opcode, current.fin, Self.appending(chunk, to: current.payload))
                } else if let open = message {
                    let payload = Self.appending(chunk, to: open.payload)
                    if payload.readableBytes > maxMessageSize { throw .tooBig(maxMessageSize) }
                    message = (open.isText, open.compressed, payload)
                }
            case .end:
                guard let current = frame else { continue }
                frame = nil
                switch current.opcode {
                case .ping:
                    return .ping(current.payload ?? ByteBuffer())
                case .pong:
                    return .pong
                case .close:
                    let payload = current.payload ?? ByteBuffer()
                    return .close(code: payload.getInteger(at: payload.readerIndex, as: UInt16.self))
                case .text, .binary, .continuation:
                    guard current.fin, let complete = message else { continue }
                    message = nil
                    var payload = complete.payload ?? ByteBuffer()
                    if complete.compressed {
                        guard let deflate else { throw .protocolViolation("a compressed message without deflate") }
                        do {
                            payload = try deflate.decompress(payload, maxSize: maxMessageSize)
                        } catch {
                            throw .protocolViolation("undecodable compressed message: \(error)")
                        }
                    }
                    return .message(isText: complete.isText, payload: payload)
                }
            }
        }
    }

    /// A frame that arrives in one read stays the slice it is: no copy.
    private static func appending(_ chunk: ByteBuffer, to payload: ByteBuffer?) -> ByteBuffer {
        guard var payload else { return chunk }
        var chunk = chunk
        payload.writeBuffer(&chunk)
        return payload
    }
}

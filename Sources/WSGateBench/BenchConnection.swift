import NIOCore
import WebSocketEngine

/// What a connection reports when its work is over.
struct ConnectionOutcome: Sendable {
    var sent = 0
    var received = 0
    var bytesReceived = 0
    /// Set when the connection ended before its work did.
    var error: String?
    var deflateNegotiated = false
}

/// The mode-specific behaviour of one connection. Runs on the connection's event loop only.
protocol BenchDriver: AnyObject {
    /// The handshake succeeded.
    func opened(_ connection: BenchConnection)
    /// A whole text or binary message arrived (decompressed).
    func received(isText: Bool, payload: ByteBuffer, on connection: BenchConnection)
    /// The connection is gone; `error` says why when it was not a normal close.
    func closed(_ connection: BenchConnection, error: String?)
}

/// One load-client connection: writes the handshake, reads frames, answers pings and closes, and
/// hands whole messages to its driver. All of it runs on the channel's event loop.
final class BenchConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case handshaking
        case open
        /// We sent a close frame and wait for the server's.
        case closing
        case closed
    }

    private let handshake: ClientHandshake
    private let deflateOffered: Bool
    private let handshakeTimeout: TimeAmount
    private let driver: any BenchDriver
    /// Succeeds with whether deflate was agreed once the server accepts the upgrade.
    let upgraded: EventLoopPromise<Bool>
    private var state = State.handshaking
    private var reader: ClientMessageReader?
    private var upgradeCompleted = false
    private var buffer = ByteBuffer()
    private var context: ChannelHandlerContext?
    private var deflate: ClientDeflate?
    private var masks: MaskKeys
    private var inRead = false
    private var flushPending = false
    private var timer: Scheduled<Void>?

    init(
        handshake: ClientHandshake, deflateOffered: Bool, handshakeTimeout: TimeAmount, driver: any BenchDriver,
        upgraded: EventLoopPromise<Bool>, seed: UInt64
    ) {
        self.handshake = handshake
        self.deflateOffered = deflateOffered
        self.handshakeTimeout = handshakeTimeout
        self.driver = driver
        self.upgraded = upgraded
        masks = MaskKeys(seed: seed)
    }

    var eventLoop: any EventLoop { context?.eventLoop ?? upgraded.futureResult.eventLoop }
    var deflateNegotiated: Bool { deflate != nil }
    let allocator = ByteBufferAllocator()

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard timer == nil, state == .handshaking else { return }
        context.writeAndFlush(wrapOutboundOut(handshake.request), promise: nil)
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: handshakeTimeout) { [self] in
            guard state == .handshaking else { return }
            fail("no handshake response within \(handshakeTimeout.nanoseconds / 1_000_000) ms")
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if buffer.readableBytes == 0 {
            buffer = bytes
        } else {
            buffer.writeBuffer(&bytes)
        }
        inRead = true
        defer { inRead = false }
        if state == .handshaking {
            let agreement: ClientHandshake.Agreement?
            do {
                agreement = try handshake.readResponse(from: &buffer, deflateOffered: deflateOffered)
            } catch {
                fail(error.description)
                return
            }
            guard let agreement else { return }
            timer?.cancel()
            timer = nil
            if let parameters = agreement.deflate {
                do {
                    deflate = try ClientDeflate(parameters)
                } catch {
                    fail("zlib: \(error)")
                    return
                }
            }
            state = .open
            reader = ClientMessageReader(deflate: deflate)
            upgradeCompleted = true
            upgraded.succeed(deflate != nil)
            driver.opened(self)
        }
        readFrames(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if flushPending {
            flushPending = false
            context.flush()
        }
        if buffer.readableBytes == 0 {
            buffer.clear()
        } else if buffer.readerIndex > 64 * 1024 {
            buffer.discardReadBytes()
        }
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch state {
        case .handshaking: terminate("the connection closed during the handshake")
        case .open: terminate("the server closed the connection")
        case .closing: terminate(nil)
        case .closed: break
        }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // A connection that never came up (refused, timed out) ends here.
        if state != .closed { terminate("could not connect") }
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail("\(error)")
    }

    private func readFrames(context: ChannelHandlerContext) {
        while state == .open || state == .closing, var current = reader {
            // Out of the stored property while it reads, so its buffers stay uniquely referenced.
            reader = nil
            let event: ClientMessageReader.Event?
            do {
                event = try current.next(from: &buffer)
            } catch {
                fail(error.description)
                return
            }
            reader = current
            guard let event else { return }
            switch event {
            case .message(let isText, let payload):
                if state == .open { driver.received(isText: isText, payload: payload, on: self) }
            case .ping(let payload):
                write(opcode: .pong, payload: payload)
            case .pong:
                break
            case .close(let code):
                var error: String?
                if state == .open {
                    // The server closes first: answer with its code; then TCP ends.
                    var reply = allocator.buffer(capacity: 2)
                    if let code { reply.writeInteger(code) }
                    write(opcode: .close, payload: reply)
                    if code != 1000 && code != 1001 {
                        error = "the server closed with \(code.map(String.init) ?? "no code")"
                    }
                }
                flushPending = false
                context.flush()
                terminate(error)
                return
            }
        }
    }

    /// Sends one message (compressed when deflate was agreed). Written at once, flushed at the end
    /// of the current read or right away when called outside one.
    func send(_ payload: ByteBuffer, isText: Bool) {
        guard state == .open else { return }
        if let deflate {
            do {
                let compressed = try deflate.compress(payload)
                write(opcode: isText ? .text : .binary, payload: compressed, reserved: .rsv1)
            } catch {
                fail("zlib: \(error)")
            }
        } else {
            write(opcode: isText ? .text : .binary, payload: payload)
        }
    }

    /// Flushes what was written outside a read.
    func flush() {
        if flushPending, !inRead {
            flushPending = false
            context?.flush()
        }
    }

    /// Starts the closing handshake with 1000; the TCP connection ends when the server answers, or
    /// after `grace`.
    func close(grace: TimeAmount = .seconds(2)) {
        guard state == .open, let context else {
            if state == .handshaking { terminate(nil) }
            return
        }
        var payload = allocator.buffer(capacity: 2)
        payload.writeInteger(UInt16(1000))
        write(opcode: .close, payload: payload)
        flushPending = false
        context.flush()
        state = .closing
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: grace) { [self] in
            if state == .closing { terminate(nil) }
        }
    }

    private func write(opcode: Opcode, payload: ByteBuffer, reserved: ReservedBits = []) {
        guard let context else { return }
        let frame = FrameEncoder.encode(
            reserved: reserved, opcode: opcode, payload: payload, maskingKey: masks.next(), allocator: allocator)
        context.write(wrapOutboundOut(frame), promise: nil)
        if inRead {
            flushPending = true
        } else if opcode.isControl {
            context.flush()
        } else {
            flushPending = true
        }
    }

    /// Ends the connection now because of `reason`.
    private func fail(_ reason: String) {
        if state != .closed { terminate(reason) }
    }

    /// Closes the channel and tells the driver, once; `reason` nil means a normal end.
    private func terminate(_ reason: String?) {
        state = .closed
        timer?.cancel()
        timer = nil
        failUpgrade(reason ?? "closed before the handshake")
        context?.close(promise: nil)
        driver.closed(self, error: reason)
    }

    private func failUpgrade(_ reason: String) {
        guard !upgradeCompleted else { return }
        upgradeCompleted = true
        upgraded.fail(BenchError.connection(reason))
    }
}

/// Masking keys from a xorshift generator: unpredictable enough for a load client, and no system
/// call per frame.
struct MaskKeys {
    private var state: UInt64

    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    mutating func next() -> (UInt8, UInt8, UInt8, UInt8) {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        let word = UInt32(truncatingIfNeeded: state)
        return (
            UInt8(truncatingIfNeeded: word), UInt8(truncatingIfNeeded: word >> 8),
            UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 24)
        )
    }
}

/// Why a run could not be done.
public enum BenchError: Error, Sendable, CustomStringConvertible {
    case connection(String)
    case invalidPlan([String])

    public var description: String {
        switch self {
        case .connection(let why): why
        case .invalidPlan(let problems): problems.joined(separator: "; ")
        }
    }
}

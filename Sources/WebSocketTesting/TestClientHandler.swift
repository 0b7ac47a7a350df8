import NIOConcurrencyHelpers
import NIOCore
import WebSocketEngine

/// The test client's channel handler: reads the handshake response, then frames.
final class TestClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let handshake: EventLoopPromise<HTTPResponseHead>
    private let frames: Mailbox<Frame>
    private let autoPong: Bool
    private var buffer = ByteBuffer()
    private var head: HTTPResponseHead?
    private var bodyLength = 0
    private var upgraded = false
    // A test tool: frames with any reserved bit are passed on, so tests can see what extensions set.
    private var parser = FrameParser(role: .client, maxFrameSize: Int.max, allowedReservedBits: [.rsv1, .rsv2, .rsv3])
    private var current: (header: FrameHeader, payload: ByteBuffer)?
    private var message: (opcode: Opcode, payload: ByteBuffer)?
    /// Set once either side of the test sent a close frame, so it is not sent twice.
    private let closeSent: NIOLockedValueBox<Bool>

    init(
        handshake: EventLoopPromise<HTTPResponseHead>,
        frames: Mailbox<Frame>,
        autoPong: Bool,
        closeSent: NIOLockedValueBox<Bool>
    ) {
        self.handshake = handshake
        self.frames = frames
        self.autoPong = autoPong
        self.closeSent = closeSent
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        buffer.writeBuffer(&bytes)
        if !upgraded {
            readResponse(context: context)
            guard upgraded else { return }
        }
        readFrames(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !upgraded {
            if var head {
                head.body = buffer.readString(length: buffer.readableBytes) ?? ""
                handshake.succeed(head)
            } else {
                handshake.fail(WebSocketTestClient.ClientError.disconnected)
            }
        }
        frames.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        handshake.fail(error)
        context.close(promise: nil)
    }

    private func readResponse(context: ChannelHandlerContext) {
        if head == nil {
            // The engine client's response reader (a test client differs only in what it accepts after it).
            let parsed: ClientHandshake.ResponseHead?
            do {
                parsed = try ClientHandshake.readResponseHead(from: &buffer)
            } catch {
                handshake.fail(WebSocketTestClient.ClientError.invalidHandshake(error.description))
                context.close(promise: nil)
                return
            }
            guard let parsed else { return }
            var headers: [String: String] = [:]
            for field in parsed.headers { headers[field.name.lowercased()] = field.value }
            head = HTTPResponseHead(status: parsed.status, headers: headers, body: "")
            bodyLength = Int(headers["content-length"] ?? "0") ?? 0
        }
        guard var head else { return }
        if head.status == 101 {
            upgraded = true
            handshake.succeed(head)
        } else if buffer.readableBytes >= bodyLength {
            head.body = buffer.readString(length: bodyLength) ?? ""
            self.head = nil
            upgraded = true  // no more HTTP parsing; frames are not expected
            handshake.succeed(head)
        }
    }

    private func readFrames(context: ChannelHandlerContext) {
        while true {
            let event: FrameParser.Event?
            do {
                event = try parser.next(from: &buffer)
            } catch {
                context.close(promise: nil)
                return
            }
            guard let event else { break }
            switch event {
            case .header(let header):
                current = (header, ByteBuffer())
            case .payload(var chunk):
                current?.payload.writeBuffer(&chunk)
            case .end:
                guard let frame = current else { continue }
                current = nil
                deliver(frame, context: context)
            }
        }
        buffer.discardReadBytes()
    }

    private func deliver(_ frame: (header: FrameHeader, payload: ByteBuffer), context: ChannelHandlerContext) {
        switch frame.header.opcode {
        case .ping:
            if autoPong {
                let pong = FrameEncoder.encode(opcode: .pong, payload: frame.payload, maskingKey: (1, 2, 3, 4))
                context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
            }
            frames.push(.ping(frame.payload))
        case .pong:
            frames.push(.pong(frame.payload))
        case .close:
            let reason = try? ConnectionStateMachine.parseClosePayload(frame.payload)
            frames.push(.close(reason.flatMap { $0.code == .noStatusReceived ? nil : $0 }))
            let alreadySent = closeSent.withLockedValue { sent in
                defer { sent = true }
                return sent
            }
            if !alreadySent {
                let reply = FrameEncoder.encode(
                    opcode: .close,
                    payload: FrameEncoder.closePayload(reason),
                    maskingKey: (1, 2, 3, 4)
                )
                context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
            }
        case .text, .binary:
            message = (frame.header.opcode, frame.payload)
        case .continuation:
            var payload = frame.payload
            message?.payload.writeBuffer(&payload)
        }
        if !frame.header.opcode.isControl, frame.header.fin, let complete = message {
            message = nil
            frames.push(complete.opcode == .text ? .text(complete.payload) : .binary(complete.payload))
        }
    }
}

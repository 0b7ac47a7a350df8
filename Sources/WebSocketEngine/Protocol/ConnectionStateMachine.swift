import NIOCore

/// The protocol side of one WebSocket connection: frames in, actions out (RFC 6455 §5–§7).
///
/// It owns the frame parser and the message assembler, answers pings, runs the close handshake
/// and decides how the connection fails. It does no I/O: the channel handler feeds it bytes and
/// performs the actions it returns.
package struct ConnectionStateMachine: Sendable {
    /// What to do after a close frame has been written.
    package enum AfterClose: Sendable, Equatable {
        /// Keep reading for the peer's close frame; close the connection when it comes or the timeout fires.
        case awaitPeerClose
        /// Close the TCP connection once the frame is written (we answered the peer's close).
        case closeConnection
        /// The stream cannot be parsed any more: stop reading frames, half-close, and wait for the peer to
        /// close its side (bounded by the close timeout).
        case shutdownOutput
    }

    /// An action for the I/O layer.
    package enum Action: Sendable, Equatable {
        /// Hand a complete message to the application.
        case deliver(AssembledMessage)
        /// Answer a ping.
        case sendPong(ByteBuffer)
        /// A pong arrived (for the keep-alive).
        case receivedPong(ByteBuffer)
        /// Write a close frame, then do `then`.
        case sendClose(CloseReason, then: AfterClose)
        /// Close the TCP connection now.
        case closeConnection
    }

    package enum State: Sendable, Equatable {
        /// Messages flow both ways.
        case open
        /// We sent a close frame and wait for the peer's (only control frames matter now).
        case closeSent
        /// We failed the connection: input is discarded.
        case failed
        /// The close handshake is over.
        case closed
    }

    private var parser: FrameParser
    private var assembler: MessageAssembler
    private var control: (opcode: Opcode, payload: ByteBuffer)?
    package private(set) var state: State = .open
    /// The first close reason sent or received; what the session reports when it ends.
    package private(set) var closeReason: CloseReason?

    /// Creates the state machine for one connection.
    package init(role: FrameParser.Role, maxFrameSize: Int, maxMessageSize: Int, allowedReservedBits: ReservedBits = [])
    {
        parser = FrameParser(role: role, maxFrameSize: maxFrameSize, allowedReservedBits: allowedReservedBits)
        assembler = MessageAssembler(maxMessageSize: maxMessageSize)
    }

    /// Consumes bytes from `buffer` until it yields an action; nil means it needs more bytes.
    package mutating func next(from buffer: inout ByteBuffer) -> Action? {
        while true {
            switch state {
            case .failed, .closed:
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                return nil
            case .open, .closeSent:
                break
            }
            let event: FrameParser.Event?
            do {
                event = try parser.next(from: &buffer)
            } catch {
                return fail(error)
            }
            guard let event else { return nil }
            do {
                if let action = try handle(event) { return action }
            } catch {
                return fail(error)
            }
        }
    }

    /// The application asks to close; returns the close frame to send, or nil if closing already.
    package mutating func close(_ reason: CloseReason) -> Action? {
        guard state == .open else { return nil }
        state = .closeSent
        closeReason = reason
        return .sendClose(reason, then: .awaitPeerClose)
    }

    /// The connection should fail for a reason found outside the frame stream (e.g. a keep-alive timeout).
    package mutating func fail(with reason: CloseReason) -> Action? {
        guard state == .open else { return state == .closed ? nil : .closeConnection }
        state = .failed
        closeReason = reason
        return .sendClose(reason, then: .shutdownOutput)
    }

    /// The TCP connection is gone; returns why the session ended (1006 when no close frame was exchanged).
    package mutating func connectionClosed() -> CloseReason {
        state = .closed
        if let closeReason { return closeReason }
        let reason = CloseReason(.abnormalClosure, "connection lost without a close frame")
        closeReason = reason
        return reason
    }

    private mutating func handle(_ event: FrameParser.Event) throws(ProtocolViolation) -> Action? {
        switch event {
        case .header(let header):
            if header.opcode.isControl {
                control = (header.opcode, ByteBuffer())
                return nil
            }
            try assembler.frameStarted(header)
            return nil
        case .payload(var chunk):
            if control != nil {
                control?.payload.writeBuffer(&chunk)
                return nil
            }
            // After our close frame, data is no longer read (RFC 6455 §5.5.1), only parsed past.
            if state == .open { try assembler.append(chunk) }
            return nil
        case .end:
            if let (opcode, payload) = control {
                control = nil
                return try handleControl(opcode, payload)
            }
            guard let message = try assembler.frameEnded(), state == .open else { return nil }
            return .deliver(message)
        }
    }

    private mutating func handleControl(_ opcode: Opcode, _ payload: ByteBuffer) throws(ProtocolViolation)
        -> Action?
    {
        switch opcode {
        case .ping:
            return state == .open ? .sendPong(payload) : nil
        case .pong:
            return .receivedPong(payload)
        case .close:
            let reason = try Self.parseClosePayload(payload)
            switch state {
            case .open:
                state = .closed
                closeReason = reason
                // Echo the peer's code (RFC 6455 §5.5.1); a close without a code is answered without one.
                return .sendClose(reason, then: .closeConnection)
            case .closeSent:
                state = .closed
                return .closeConnection
            case .failed, .closed:
                return nil
            }
        default:
            return nil
        }
    }

    private mutating func fail(_ violation: ProtocolViolation) -> Action? {
        switch state {
        case .open:
            state = .failed
            let reason = CloseReason(violation.closeCode, violation.description)
            closeReason = reason
            return .sendClose(reason, then: .shutdownOutput)
        case .closeSent:
            // Our close frame is out already; the peer broke the protocol while closing.
            state = .failed
            return .closeConnection
        case .failed, .closed:
            return nil
        }
    }

    /// Decodes a close frame's payload: empty (no code), or a valid code and a UTF-8 reason.
    package static func parseClosePayload(_ payload: ByteBuffer) throws(ProtocolViolation) -> CloseReason {
        var payload = payload
        switch payload.readableBytes {
        case 0:
            return CloseReason(.noStatusReceived)
        case 1:
            throw .closePayloadOfOneByte
        default:
            guard let raw = payload.readInteger(as: UInt16.self) else { throw .closePayloadOfOneByte }
            let code = CloseReason.Code(raw)
            guard code.isValidOnTheWire else { throw .invalidCloseCode(raw) }
            guard UTF8Validator.isValid(payload.readableBytesView) else { throw .invalidUTF8InCloseReason }
            return CloseReason(code, payload.readString(length: payload.readableBytes) ?? "")
        }
    }
}

/// The connection handler's two rules that are not RFC 6455 framing, as one value: when the handler reads
/// from the socket (the read gate) and when a close frame may go out (the close deferral).
///
/// The handler feeds events in and performs what the methods return; the channel, timers and the
/// `incoming` source stay in the handler. Every rule is a unit test in `ConnectionFlowTests`.
///
/// Read gate:
/// - while the handler is busy between requests (a plain response is written, an admission check runs)
///   nothing is read;
/// - while the session is open, reading waits for the consumer of `incoming` to want more messages and for
///   the outbound buffer to have room (backpressure both ways); once the close handshake started, reading
///   goes on so the peer's close frame is seen;
/// - a read the gate held is remembered, and done once the gate opens.
///
/// Close deferral: a close reply or failure close (anything but a close this side starts and then waits
/// for the peer to answer) waits while the handler may still answer earlier messages — it iterates
/// `incoming`, or a message was handed to it — until the handler is done, stops iterating, or the drain
/// limit passes. Once the close frame is written nothing more is sent.
struct ConnectionFlow: Equatable {
    /// Where the close frame stands.
    enum Close: Equatable {
        /// No close frame yet.
        case none
        /// A close frame waits for the handler to finish with the messages before it.
        case deferred(CloseReason, then: ConnectionStateMachine.AfterClose)
        /// The close frame was written (or is being written): nothing more may be sent.
        case written
    }

    /// What the handler's consumer of `incoming` is doing.
    enum Consumer: Equatable {
        /// Takes messages (or has not started yet); `wantsMore` false: its buffer is full.
        case taking(wantsMore: Bool)
        /// Stopped iterating: later messages are discarded, reading goes on for pings and the close.
        case gone
    }

    /// What to do with a close frame the protocol state machine asked for.
    enum CloseAction: Equatable {
        /// Write it now.
        case write(CloseReason, then: ConnectionStateMachine.AfterClose)
        /// Keep it and start the drain timer (``WebSocketConnectionHandler/closeDrainLimit``); write it when
        /// ``releaseDeferredClose()`` returns it.
        case deferUntilDrained
        /// Nothing: a close frame was written already.
        case none
    }

    /// Why reads are held besides backpressure.
    enum Hold: Equatable {
        /// Nothing besides backpressure.
        case none
        /// The handler is between requests: a plain response is written or an admission check runs.
        case busy
    }

    private(set) var close = Close.none
    private(set) var consumer = Consumer.taking(wantsMore: true)
    /// A read the gate held, to be done when it opens.
    private(set) var readPending = false
    /// A message went into `incoming`: the handler has something to answer before a close reply.
    private(set) var deliveredMessage = false

    // MARK: Read gate

    /// Whether reading waits for the consumer or the outbound buffer (`sessionOpen`: the protocol state
    /// machine is open, not closing).
    private func backpressured(sessionOpen: Bool, writable: Bool) -> Bool {
        guard sessionOpen else { return false }
        let wantsMore: Bool
        switch consumer {
        case .taking(let more): wantsMore = more
        case .gone: wantsMore = true
        }
        return !wantsMore || !writable
    }

    /// The channel asks for a read: true to read now; false holds it (``readPending``).
    mutating func read(hold: Hold, sessionOpen: Bool, writable: Bool) -> Bool {
        if hold == .busy || backpressured(sessionOpen: sessionOpen, writable: writable) {
            readPending = true
            return false
        }
        return true
    }

    /// Something that may open the gate happened (the consumer wants more, the buffer drained, the session
    /// opened or started closing): true to do the held read now.
    mutating func resume(hold: Hold, sessionOpen: Bool, writable: Bool) -> Bool {
        guard readPending, hold == .none, !backpressured(sessionOpen: sessionOpen, writable: writable) else {
            return false
        }
        readPending = false
        return true
    }

    /// The handler finished a plain response and reads the next request: true to do a held read now.
    mutating func nextRequest() -> Bool {
        defer { readPending = false }
        return readPending
    }

    // MARK: Consumer

    /// A message went into `incoming`; `stopProducing`: the consumer's buffer is full.
    mutating func delivered(stopProducing: Bool) {
        deliveredMessage = true
        if stopProducing, case .taking = consumer { consumer = .taking(wantsMore: false) }
    }

    /// The consumer wants more messages.
    mutating func consumerWantsMore() {
        if case .taking = consumer { consumer = .taking(wantsMore: true) }
    }

    /// `incoming` was finished (the close handshake started): no message will wait for the consumer.
    mutating func inboundFinished() {
        consumerWantsMore()
    }

    /// The consumer stopped iterating `incoming`: a deferred close goes now (returned, and marked written).
    mutating func consumerTerminated() -> CloseAction {
        consumer = .gone
        return releaseDeferredClose()
    }

    // MARK: Close

    /// The protocol state machine asks for a close frame. `consumerIterating`: someone made an iterator of
    /// `incoming` (its task may not have taken the messages before this close yet).
    mutating func closeRequested(
        _ reason: CloseReason, then: ConnectionStateMachine.AfterClose, consumerIterating: Bool
    ) -> CloseAction {
        if case .written = close { return .none }
        let handlerMayAnswer = consumerIterating || deliveredMessage
        if then != .awaitPeerClose && handlerMayAnswer && consumer != .gone {
            close = .deferred(reason, then: then)
            return .deferUntilDrained
        }
        return startWriting(reason, then: then)
    }

    /// The deferred close, if any, to be written now (the drain timer fired, the handler finished or stopped
    /// iterating).
    mutating func releaseDeferredClose() -> CloseAction {
        guard case .deferred(let reason, let then) = close else { return .none }
        close = .written
        return .write(reason, then: then)
    }

    /// A close frame is about to be written: `.write` the first time, `.none` after.
    mutating func startWriting(_ reason: CloseReason, then: ConnectionStateMachine.AfterClose) -> CloseAction {
        if case .written = close { return .none }
        close = .written
        return .write(reason, then: then)
    }

    /// Whether frames may still be sent (no close frame written).
    var canSend: Bool { close != .written }

    /// Whether the consumer stopped iterating `incoming`.
    var consumerGone: Bool { consumer == .gone }
}

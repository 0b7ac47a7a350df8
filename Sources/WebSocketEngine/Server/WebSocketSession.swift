import NIOCore
import Synchronization

/// One WebSocket connection, as its handler sees it (Ktor's `DefaultWebSocketServerSession`).
///
/// Ktor's events map onto it like this:
/// - `onConnect`: the handler starts;
/// - `onMessage`: each element of ``incoming``;
/// - `onClose`: the `for await` loop over ``incoming`` ends; ``closeReason`` says why;
/// - `onError`: a `send` throws ``WebSocketError/sessionClosed``, or the handler's own error, after
///   which the session closes with 1011. Protocol errors by the peer close the session with the RFC
///   code (1002, 1007, 1009) and end ``incoming``; ``closeReason`` carries that code.
public final class WebSocketSession: Sendable {
    /// The handshake request.
    public let request: WebSocketRequest
    /// The messages from the peer, as `.text` or `.binary` frames, in order; the sequence ends when the
    /// session closes. Iterate it from one task only. A handler that stops iterating stops the server
    /// reading its socket (backpressure); one that stops iterating for good should close the session.
    public let incoming: Incoming

    private let connection: NIOLoopBound<WebSocketConnectionHandler>
    /// The same handler, for fan-out that has checked it runs on ``eventLoop`` once per batch
    /// (``offerOnLoop(_:whenFull:flush:)``, ``flushOnLoop()``) rather than once per call.
    private nonisolated(unsafe) let handler: WebSocketConnectionHandler
    /// The connection's event loop (kept by `connection`: a session holds no second reference).
    private var loop: any EventLoop { connection.eventLoop }

    init(
        request: WebSocketRequest,
        incoming: Incoming,
        connection: NIOLoopBound<WebSocketConnectionHandler>
    ) {
        self.request = request
        self.incoming = incoming
        self.connection = connection
        self.handler = connection.value
    }

    /// Sends a text message. Waits while the connection's outbound buffer is full.
    /// - Throws: ``WebSocketError/sessionClosed`` once the session is closing.
    public func send(_ text: String) async throws {
        try await send(.text(ByteBuffer(string: text)))
    }

    /// Sends a frame: a whole text or binary message, a ping or pong, or a close (same as ``close(_:)``).
    /// Waits while the connection's outbound buffer is full, so a slow peer slows its sender and no queue grows
    /// without bound.
    public func send(_ frame: Frame) async throws {
        let connection = self.connection
        if loop.inEventLoop {
            // The handler runs on its connection's loop (the default): write now, wait only when full.
            switch connection.value.sendNow(frame) {
            case .done:
                return
            case .failed(let error):
                throw error
            case .mustWait:
                let promise = loop.makePromise(of: Void.self)
                connection.value.waitForWritable(promise)
                try await promise.futureResult.get()
                return
            }
        }
        let promise = loop.makePromise(of: Void.self)
        loop.execute { connection.value.send(frame, promise: promise) }
        try await promise.futureResult.get()
    }

    /// Queues a prepared message without waiting: for fan-out to many sessions. When the session already
    /// has `maxQueuedBytes` waiting to be sent, `whenFull` decides: close it, or drop this message for it.
    /// With `flush: false` the bytes wait for ``flush()``, so a batch of messages costs one write.
    ///
    /// Call it on the session's ``eventLoop`` (fan-out groups sessions by loop); elsewhere it returns `.notOpen`.
    public func offer(_ message: PreparedMessage, whenFull: SlowConsumerPolicy, flush: Bool = true) -> OfferResult {
        guard loop.inEventLoop else { return .notOpen }
        return connection.value.offer(message, whenFull: whenFull, flush: flush)
    }

    /// ``offer(_:whenFull:flush:)`` for a caller that runs on ``eventLoop`` and has checked it once for a
    /// batch of sessions of that loop (the room hub's drain): no check per call. Elsewhere it is a misuse.
    package func offerOnLoop(_ message: PreparedMessage, whenFull: SlowConsumerPolicy, flush: Bool) -> OfferResult {
        loop.assertInEventLoop()
        return handler.offer(message, whenFull: whenFull, flush: flush)
    }

    /// Offers a batch of prepared messages as one write, on ``eventLoop``, under the same terms as
    /// ``offerOnLoop(_:whenFull:flush:)``; `whenFull` applies to the batch as a whole.
    package func offerOnLoop(_ batch: PreparedBatch, whenFull: SlowConsumerPolicy, flush: Bool) -> OfferResult {
        loop.assertInEventLoop()
        return handler.offer(batch, whenFull: whenFull, flush: flush)
    }

    /// ``flush()`` for the caller of ``offerOnLoop(_:whenFull:flush:)``, on ``eventLoop``.
    package func flushOnLoop() {
        loop.assertInEventLoop()
        handler.flush()
    }

    /// Sends what ``offer(_:whenFull:flush:)`` queued with `flush: false`. Call it on ``eventLoop``.
    public func flush() {
        guard loop.inEventLoop else { return }
        connection.value.flush()
    }

    /// The event loop the session's connection runs on; fan-out groups sessions by it.
    public var eventLoop: any EventLoop { loop }

    /// Starts the close handshake with `reason` and waits until the close frame is written. Does nothing
    /// when the session is closing already.
    public func close(_ reason: CloseReason = CloseReason(.normal)) async {
        let promise = eventLoop.makePromise(of: Void.self)
        let connection = self.connection
        eventLoop.execute { connection.value.send(.close(reason), promise: promise) }
        try? await promise.futureResult.get()
    }

    /// Sends a frame now, on the session's event loop (call it there), without waiting for room: for a session
    /// driven by ``WebSocketLoopCallbacks`` (whose reading pauses while the outbound buffer is full) or a client
    /// driven on its loop that bounds what it has in flight itself. Writes are flushed once the loop's current
    /// jobs have run, so a batch costs one write. False when the session is closing or the frame was refused.
    public func sendOnLoop(_ frame: Frame) -> Bool {
        loop.preconditionInEventLoop()
        switch connection.value.sendNow(frame) {
        case .done, .mustWait: return true
        case .failed: return false
        }
    }

    /// Starts the close handshake with `reason` now, on the session's event loop (call it there), without
    /// waiting: for sessions driven by ``WebSocketLoopCallbacks``. Does nothing when the session is closing.
    public func closeOnLoop(_ reason: CloseReason = CloseReason(.normal)) {
        loop.preconditionInEventLoop()
        connection.value.send(.close(reason), promise: nil)
    }

    /// Completes with ``closeReason`` once the connection is closed, on the session's event loop.
    package var closedFuture: EventLoopFuture<CloseReason> {
        let loop = self.loop
        if loop.inEventLoop { return handler.closeFuture(on: loop) }
        let connection = self.connection
        return loop.flatSubmit { connection.value.closeFuture(on: loop) }
    }

    /// Drops the connection without a close handshake, like a peer that vanished: for test clients that
    /// must reproduce one. Sessions that end on purpose use ``close(_:)``.
    package func abort() {
        let connection = self.connection
        eventLoop.execute { connection.value.context?.close(promise: nil) }
    }

    /// Why the session ended: the close frame received or sent first, or 1006 when the connection was
    /// lost without one. Waits until the connection is closed.
    public var closeReason: CloseReason {
        get async {
            (try? await closedFuture.get()) ?? CloseReason(.abnormalClosure)
        }
    }

    /// The peer's messages: an `AsyncSequence` of `.text` and `.binary` frames that ends at close.
    public struct Incoming: AsyncSequence, Sendable {
        public typealias Element = Frame
        typealias Producer = NIOAsyncSequenceProducer<
            Frame, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, InboundDelegate
        >
        /// nil for a session driven on its loop (``WebSocketLoopCallbacks``): its messages go to the callbacks.
        let producer: Producer?
        /// nil with `producer`.
        let consumption: Consumption?

        public func makeAsyncIterator() -> AsyncIterator {
            guard let producer else { return AsyncIterator(base: nil) }
            consumption?.iteratorMade()
            return AsyncIterator(base: producer.makeAsyncIterator())
        }

        /// Iterates the messages.
        public struct AsyncIterator: AsyncIteratorProtocol {
            var base: Producer.AsyncIterator?

            public mutating func next() async -> Frame? {
                await base?.next()
            }
        }
    }
}

/// Records whether anyone iterates `incoming`, so the connection knows whether a close reply should
/// wait for the handler to finish with the messages before it.
final class Consumption: Sendable {
    private let iterating = Atomic<Bool>(false)

    func iteratorMade() {
        iterating.store(true, ordering: .relaxed)
    }

    var hasIterator: Bool { iterating.load(ordering: .relaxed) }
}

/// Tells the connection when the consumer of `incoming` wants more messages.
final class InboundDelegate: NIOAsyncSequenceProducerDelegate, Sendable {
    private let connection: NIOLoopBound<WebSocketConnectionHandler>
    private let eventLoop: any EventLoop

    init(connection: NIOLoopBound<WebSocketConnectionHandler>, eventLoop: any EventLoop) {
        self.connection = connection
        self.eventLoop = eventLoop
    }

    func produceMore() {
        let connection = self.connection
        eventLoop.execute { connection.value.resumeReading() }
    }

    func didTerminate() {
        let connection = self.connection
        eventLoop.execute { connection.value.consumerTerminated() }
    }
}

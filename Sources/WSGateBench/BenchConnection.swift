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

/// One load-client connection: a session of the engine's WebSocket client (handshake, masking, ping answers,
/// permessage-deflate, the close handshake), its messages handed to the driver on the event loop as they are
/// read. Confined to the channel's event loop.
final class BenchConnection {
    private enum State {
        case handshaking
        case open
        /// We sent a close frame and wait for the server's.
        case closing
        case closed
    }

    private let driver: any BenchDriver
    let eventLoop: any EventLoop
    private var session: WebSocketSession?
    private var state = State.handshaking
    private(set) var deflateNegotiated = false
    let allocator = ByteBufferAllocator()

    init(driver: any BenchDriver, eventLoop: any EventLoop) {
        self.driver = driver
        self.eventLoop = eventLoop
    }

    /// The server accepted the upgrade; `deflate` tells whether it agreed to permessage-deflate.
    func opened(_ session: WebSocketSession, deflate: Bool) {
        self.session = session
        deflateNegotiated = deflate
        state = .open
        session.closedFuture.hop(to: eventLoop).assumeIsolated().whenComplete { [self] result in
            ended(try? result.get())
        }
        driver.opened(self)
    }

    /// A whole message, decompressed (the engine's `onMessage`).
    func received(_ frame: Frame) {
        guard state == .open else { return }
        switch frame {
        case .text(let payload): driver.received(isText: true, payload: payload, on: self)
        case .binary(let payload): driver.received(isText: false, payload: payload, on: self)
        default: break
        }
    }

    /// Sends one message (compressed when deflate was agreed); written now, flushed once the loop's current
    /// jobs have run, so the echoes of one read go out in one write.
    func send(_ payload: ByteBuffer, isText: Bool) {
        guard state == .open, let session else { return }
        _ = session.sendOnLoop(isText ? .text(payload) : .binary(payload))
    }

    /// Starts the closing handshake with 1000; the engine ends the TCP connection when the server answers,
    /// or after its close timeout.
    func close() {
        guard state == .open, let session else {
            if state == .handshaking { ended(nil, failure: "closed before the handshake") }
            return
        }
        state = .closing
        _ = session.sendOnLoop(.close(CloseReason(.normal)))
    }

    /// The handshake failed: the driver hears of it once.
    func failed(_ reason: String) {
        ended(nil, failure: reason)
    }

    /// The session ended with `reason` (nil: unknown): the driver hears why, once.
    private func ended(_ reason: CloseReason?, failure: String? = nil) {
        let previous = state
        guard previous != .closed else { return }
        state = .closed
        var error = failure
        if error == nil, previous == .open {
            switch reason?.code {
            case .normal?, .goingAway?: break
            case .abnormalClosure?, nil: error = "the server closed the connection"
            case let code?: error = "the server closed with \(code)"
            }
        }
        driver.closed(self, error: error)
    }
}

/// The permessage-deflate offer of `--deflate`: no context takeover either way, the one form every peer in the
/// benchmark (gorilla/websocket among them) supports, so all do the same work. Every message is compressed at
/// level 1, as gorilla/websocket's client does.
let benchDeflate = PerMessageDeflateConfiguration(
    compressionLevel: 1, compressMinSize: 0, serverNoContextTakeover: true, clientNoContextTakeover: true,
    memoryLevel: 8)

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

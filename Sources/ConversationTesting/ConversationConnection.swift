import NIOCore
import WebSocketClient
import WebSocketEngine
import WebSocketTesting

/// One client's connection in a conversation: the in-process runs use the frame-level test client, the runs
/// against a deployment (`wsgate test --url`) the engine's ``WebSocketClient``.
protocol ConversationConnection: Sendable {
    /// The 101 response's header fields (names lowercased; the last value of a repeated name).
    var responseHeaders: [String: String] { get }
    /// Sends a text or binary message, or a close frame.
    func send(_ frame: Frame) async throws
    /// The next frame from the server; throws ``WebSocketTestClient/ClientError/timeout(_:)`` or
    /// ``WebSocketTestClient/ClientError/disconnected``.
    func receive(timeout: Duration) async throws -> Frame
    /// Drops the connection without a close handshake.
    func disconnect() async
}

extension WebSocketTestClient: ConversationConnection {}

/// Where a conversation's clients connect.
enum ConversationTarget: Sendable {
    /// The in-process gateway on 127.0.0.1.
    case local(port: Int)
    /// A running deployment: the clients' endpoints are appended to the URL's path.
    case deployment(WebSocketURL, WebSocketClientOptions)

    /// The URL a client with request target `target` (path and query) connects to.
    static func url(_ base: WebSocketURL, target: String) -> WebSocketURL {
        var url = base
        let prefix = base.target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        url.target = (prefix.hasSuffix("/") ? String(prefix.dropLast()) : String(prefix)) + target
        return url
    }
}

/// A conversation client on a ``WebSocketSession`` from ``WebSocketClient``: its messages, then the close
/// frame the session ended with, as the test client shows them. The session answers pings itself.
final class SessionConnection: ConversationConnection {
    let session: WebSocketSession
    let responseHeaders: [String: String]
    /// Bounded: a conversation that stops reading holds back the connection (and the server behind it), not
    /// memory.
    private let frames = Mailbox<Frame>(capacity: SessionConnection.queuedFrames)
    /// How many received frames wait for the conversation to take them.
    static let queuedFrames = 1024

    init(session: WebSocketSession) {
        self.session = session
        var headers: [String: String] = [:]
        for field in session.request.responseHeaders { headers[field.name.lowercased()] = field.value }
        responseHeaders = headers
        let frames = self.frames
        Task {
            for await frame in session.incoming {
                // False once the conversation let go of the connection (``disconnect()``).
                guard await frames.put(frame) else { break }
            }
            let reason = await session.closeReason
            if reason.code != .abnormalClosure { frames.push(.close(reason)) }
            frames.finish()
        }
    }

    func send(_ frame: Frame) async throws {
        if case .close(let reason) = frame {
            await session.close(reason ?? CloseReason(.normal))
            return
        }
        try await session.send(frame)
    }

    func receive(timeout: Duration) async throws -> Frame {
        if let frame = await frames.next(timeout: timeout) { return frame }
        if frames.isFinished { throw WebSocketTestClient.ClientError.disconnected }
        throw WebSocketTestClient.ClientError.timeout(timeout)
    }

    func disconnect() async {
        frames.finish()
        session.abort()
    }
}

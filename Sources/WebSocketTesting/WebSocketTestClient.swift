import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WebSocketEngine

/// A WebSocket client for tests: connects over real TCP, masks what it sends, and lets a test read
/// every frame the server sends — including pings, pongs and close frames — or craft invalid ones.
public final class WebSocketTestClient: Sendable {
    /// Errors of the test client.
    public enum ClientError: Error, Sendable, CustomStringConvertible {
        /// The server answered the handshake with another status than 101.
        case handshakeRefused(status: Int, headers: [String: String], body: String)
        /// The 101 response was not a valid WebSocket acceptance.
        case invalidHandshake(String)
        /// Nothing arrived within the timeout.
        case timeout(Duration)
        /// The connection closed before a frame arrived.
        case disconnected

        public var description: String {
            switch self {
            case .handshakeRefused(let status, _, let body): return "handshake refused with HTTP \(status): \(body)"
            case .invalidHandshake(let why): return "invalid handshake response: \(why)"
            case .timeout(let duration): return "nothing received within \(duration)"
            case .disconnected: return "the connection closed"
            }
        }
    }

    private let channel: any Channel
    private let frames: Mailbox<Frame>
    private let closeSent: NIOLockedValueBox<Bool>
    /// The response headers of the handshake (names lowercased).
    public let responseHeaders: [String: String]

    private init(
        channel: any Channel,
        frames: Mailbox<Frame>,
        closeSent: NIOLockedValueBox<Bool>,
        responseHeaders: [String: String]
    ) {
        self.channel = channel
        self.frames = frames
        self.closeSent = closeSent
        self.responseHeaders = responseHeaders
    }

    /// Opens a WebSocket connection to `ws://host:port/path`.
    /// - Parameters:
    ///   - headers: extra request headers; a header named like a default one replaces it.
    ///   - autoPong: answer pings automatically, as every real client does.
    public static func connect(
        host: String = "127.0.0.1",
        port: Int,
        path: String,
        headers: [(String, String)] = [],
        autoPong: Bool = true
    ) async throws -> WebSocketTestClient {
        var generator = SystemRandomNumberGenerator()
        let key = ClientHandshake.randomKey(using: &generator)
        // The engine client's request, except that a test may replace any field (an invalid version, no
        // Upgrade, …): the engine's client would refuse to send those.
        var fields = ClientHandshake.baseFields(host: "\(host):\(port)", key: key)
        for (name, value) in headers {
            fields.removeAll { $0.name.lowercased() == name.lowercased() }
            fields.append(HTTPHeaderField(name, value))
        }
        let request = ClientHandshake.requestHead(target: path, fields: fields)

        let frames = Mailbox<Frame>()
        let closeSent = NIOLockedValueBox(false)
        let handshake = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: HTTPResponseHead.self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        TestClientHandler(
                            handshake: handshake, frames: frames, autoPong: autoPong, closeSent: closeSent)
                    )
                }
            }
            .connect(host: host, port: port)
            .flatMapErrorThrowing { error in
                // Nobody will complete the handshake promise: fail it rather than leak it.
                handshake.fail(error)
                throw error
            }
            .get()
        try await channel.writeAndFlush(ByteBuffer(string: request))
        let response = try await handshake.futureResult.get()
        guard response.status == 101 else {
            try? await channel.close()
            throw ClientError.handshakeRefused(status: response.status, headers: response.headers, body: response.body)
        }
        guard response.headers["sec-websocket-accept"] == Handshake.acceptKey(for: key) else {
            try? await channel.close()
            throw ClientError.invalidHandshake("wrong Sec-WebSocket-Accept")
        }
        return WebSocketTestClient(
            channel: channel,
            frames: frames,
            closeSent: closeSent,
            responseHeaders: response.headers
        )
    }

    /// Sends a raw HTTP request and returns the response status and body: for refused handshakes.
    public static func rawRequest(host: String = "127.0.0.1", port: Int, _ request: String) async throws -> (
        status: Int, headers: [String: String], body: String
    ) {
        let frames = Mailbox<Frame>()
        let handshake = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: HTTPResponseHead.self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        TestClientHandler(
                            handshake: handshake,
                            frames: frames,
                            autoPong: true,
                            closeSent: NIOLockedValueBox(false)
                        )
                    )
                }
            }
            .connect(host: host, port: port)
            .flatMapErrorThrowing { error in
                // Nobody will complete the handshake promise: fail it rather than leak it.
                handshake.fail(error)
                throw error
            }
            .get()
        try await channel.writeAndFlush(ByteBuffer(string: request))
        let response = try await handshake.futureResult.get()
        try? await channel.close()
        return (response.status, response.headers, response.body)
    }

    /// The next frame from the server: `.text`/`.binary` messages (fragments joined), and `.ping`,
    /// `.pong`, `.close` frames as they come.
    public func receive(timeout: Duration = .seconds(5)) async throws -> Frame {
        if let frame = await frames.next(timeout: timeout) { return frame }
        if channel.isActive { throw ClientError.timeout(timeout) }
        throw ClientError.disconnected
    }

    /// Sends a frame, masked as a client must.
    public func send(_ frame: Frame) async throws {
        let (opcode, payload): (Opcode, ByteBuffer)
        switch frame {
        case .text(let buffer): (opcode, payload) = (.text, buffer)
        case .binary(let buffer): (opcode, payload) = (.binary, buffer)
        case .ping(let buffer): (opcode, payload) = (.ping, buffer)
        case .pong(let buffer): (opcode, payload) = (.pong, buffer)
        case .close(let reason):
            closeSent.withLockedValue { $0 = true }
            (opcode, payload) = (.close, FrameEncoder.closePayload(reason))
        }
        try await sendFrame(opcode: opcode.rawValue, payload: Array(payload.readableBytesView))
    }

    /// Sends a text message.
    public func send(_ text: String) async throws {
        try await send(.text(text))
    }

    /// Sends one frame exactly as described, valid or not.
    public func sendFrame(
        opcode: UInt8,
        payload: [UInt8],
        fin: Bool = true,
        rsv: UInt8 = 0,
        masked: Bool = true
    ) async throws {
        let key: (UInt8, UInt8, UInt8, UInt8)? =
            masked
            ? (.random(in: 0...255), .random(in: 0...255), .random(in: 0...255), .random(in: 0...255)) : nil
        try await sendRaw(Self.frameBytes(opcode: opcode, payload: payload, fin: fin, rsv: rsv, maskingKey: key))
    }

    /// The wire bytes of one frame exactly as described, valid or not (any opcode, reserved bits, mask).
    public static func frameBytes(
        opcode: UInt8,
        payload: [UInt8],
        fin: Bool = true,
        rsv: UInt8 = 0,
        maskingKey: (UInt8, UInt8, UInt8, UInt8)?
    ) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt8(fin ? 0x80 : 0) | (rsv & 0b111) << 4 | (opcode & 0x0F))
        let maskBit: UInt8 = maskingKey == nil ? 0 : 0x80
        if payload.count < 126 {
            buffer.writeInteger(maskBit | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            buffer.writeInteger(maskBit | 126)
            buffer.writeInteger(UInt16(payload.count))
        } else {
            buffer.writeInteger(maskBit | 127)
            buffer.writeInteger(UInt64(payload.count))
        }
        var body = ByteBuffer(bytes: payload)
        if let key = maskingKey {
            buffer.writeBytes([key.0, key.1, key.2, key.3])
            body.withUnsafeMutableReadableBytes { applyMask(key, to: $0, offset: 0) }
        }
        buffer.writeBuffer(&body)
        return buffer
    }

    /// Writes bytes to the socket as they are.
    public func sendRaw(_ bytes: ByteBuffer) async throws {
        try await channel.writeAndFlush(bytes)
    }

    /// Stops reading the socket, like a client that stopped consuming: the server's writes back up.
    public func pauseReading() async throws {
        try await channel.setOption(ChannelOptions.autoRead, value: false).get()
    }

    /// Reads the socket again after ``pauseReading()``.
    public func resumeReading() async throws {
        try await channel.setOption(ChannelOptions.autoRead, value: true).get()
        channel.read()
    }

    /// Whether the TCP connection is still open.
    public var isConnected: Bool { channel.isActive }

    /// Waits until the server closes the TCP connection; false when it is still open after `timeout`.
    public func waitForDisconnect(timeout: Duration = .seconds(5)) async -> Bool {
        let closed = channel.closeFuture
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                try? await closed.get()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// Drops the TCP connection without a close handshake.
    public func disconnect() async {
        try? await channel.close()
    }
}

/// The parts of an HTTP response the test client looks at.
struct HTTPResponseHead: Sendable {
    var status: Int
    var headers: [String: String]
    var body: String
}

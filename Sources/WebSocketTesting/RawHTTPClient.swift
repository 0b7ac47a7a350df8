import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WebSocketEngine

/// A TCP connection for tests that speak HTTP by hand: several requests on one connection (keep-alive,
/// pipelining), then an upgrade, or bytes no real client would send. It keeps every byte the server
/// sends and reads responses off them one at a time.
public final class RawHTTPClient: Sendable {
    /// One HTTP response as received.
    public struct Response: Sendable, Equatable {
        /// The status code.
        public var status: Int
        /// Header fields, names lowercased (the last of a repeated name wins).
        public var headers: [String: String]
        /// The body: `Content-Length` bytes (none for a HEAD request, a 304 or a 101).
        public var body: [UInt8]

        /// The body as UTF-8 text.
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Errors of the raw client.
    public enum ClientError: Error, Sendable {
        /// No whole response arrived within the timeout.
        case timeout
        /// The connection closed before a whole response arrived.
        case closed
        /// The bytes are not an HTTP response.
        case malformed(String)
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let state = NIOLockedValueBox<(bytes: [UInt8], closed: Bool)>(([], false))

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            state.withLockedValue { $0.bytes += buffer.readableBytesView }
        }

        func channelInactive(context: ChannelHandlerContext) {
            state.withLockedValue { $0.closed = true }
            context.fireChannelInactive()
        }
    }

    private let channel: any Channel
    private let collector: Collector

    private init(channel: any Channel, collector: Collector) {
        self.channel = channel
        self.collector = collector
    }

    /// Connects to `host:port`.
    public static func connect(host: String = "127.0.0.1", port: Int) async throws -> RawHTTPClient {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: host, port: port)
            .get()
        return RawHTTPClient(channel: channel, collector: collector)
    }

    /// Sends bytes as they are.
    public func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// The next response; `head` says it answers a HEAD request (no body follows).
    public func response(head: Bool = false, timeout: Duration = .seconds(5)) async throws -> Response {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (found, closed) = try collector.state.withLockedValue { state throws -> (Response?, Bool) in
                guard let (response, used) = try Self.parse(state.bytes, head: head) else { return (nil, state.closed) }
                state.bytes.removeFirst(used)
                return (response, state.closed)
            }
            if let found { return found }
            if closed { throw ClientError.closed }
            if ContinuousClock.now > deadline { throw ClientError.timeout }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Whether the server closes the connection within `timeout` (bytes it sends meanwhile are kept).
    public func closedByServer(within timeout: Duration = .seconds(5)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if collector.state.withLockedValue({ $0.closed }) { return true }
            try await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

    /// Bytes received and not yet read as a response.
    public var unread: [UInt8] { collector.state.withLockedValue { $0.bytes } }

    /// Closes the connection.
    public func close() async {
        try? await channel.close()
    }

    /// A whole response at the start of `bytes` and how many bytes it took; nil while incomplete.
    static func parse(_ bytes: [UInt8], head: Bool) throws -> (Response, Int)? {
        // The engine client's response-head reader; only the body is read here.
        var buffer = ByteBuffer(bytes: bytes)
        let parsed: ClientHandshake.ResponseHead?
        do {
            parsed = try ClientHandshake.readResponseHead(from: &buffer)
        } catch {
            throw ClientError.malformed(error.description)
        }
        guard let parsed else { return nil }
        var headers: [String: String] = [:]
        for field in parsed.headers { headers[field.name.lowercased()] = field.value }
        let status = parsed.status
        let length = head || status == 304 || status == 101 ? 0 : Int(headers["content-length"] ?? "0") ?? 0
        let start = bytes.count - buffer.readableBytes
        guard bytes.count >= start + length else { return nil }
        return (Response(status: status, headers: headers, body: Array(bytes[start..<start + length])), start + length)
    }
}

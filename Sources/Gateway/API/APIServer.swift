import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The backend API's own HTTP/1.1 listener (`server.api.listen`): reads a request with a body of at most
/// `max_body` bytes (413 beyond, before reading more), answers it with ``BackendAPI``, and logs the
/// method, path and status, never the key.
final class APIServer: Sendable {
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup

    /// The port it listens on.
    var port: Int { channel.localAddress?.port ?? 0 }

    private init(channel: any Channel, group: MultiThreadedEventLoopGroup) {
        self.channel = channel
        self.group = group
    }

    static func start(host: String, port: Int, api: BackendAPI, logger: Logger) async throws -> APIServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let maxBody = api.settings.maxBody
        do {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(
                            APIHTTPHandler(api: api, maxBody: maxBody, logger: logger))
                    }
                }
                .bind(host: host, port: port).get()
            return APIServer(channel: channel, group: group)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    func stop() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}

/// One API connection: collects a request (head and a bounded body) and writes the answer. Confined to
/// its channel's event loop.
final class APIHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let api: BackendAPI
    private let maxBody: Int
    private let logger: Logger
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    /// The request grew over `max_body`: answered with 413 and the connection closes.
    private var refused = false

    init(api: BackendAPI, maxBody: Int, logger: Logger) {
        self.api = api
        self.maxBody = maxBody
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body = []
            refused = false
            if let length = requestHead.headers.first(name: "Content-Length").flatMap(Int.init), length > maxBody {
                refuse(context: context, head: requestHead)
            }
        case .body(var chunk):
            guard !refused else { return }
            if body.count + chunk.readableBytes > maxBody {
                if let head { refuse(context: context, head: head) }
                return
            }
            body += chunk.readBytes(length: chunk.readableBytes) ?? []
        case .end:
            guard !refused, let head else { return }
            self.head = nil
            let split = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            let request = APIRequest(
                method: head.method.rawValue,
                path: String(split.first ?? ""),
                query: split.count > 1 ? String(split[1]) : "",
                headers: head.headers.map { (name: $0.name, value: $0.value) },
                body: body)
            body = []
            let api = self.api
            let promise = context.eventLoop.makePromise(of: APIResponse.self)
            promise.completeWithTask { await api.respond(request) }
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            promise.futureResult.whenSuccess { response in
                let (handler, context) = bound.value
                handler.write(response, for: head, close: !head.isKeepAlive, context: context)
            }
        }
    }

    private func refuse(context: ChannelHandlerContext, head: HTTPRequestHead) {
        refused = true
        body = []
        write(
            .error(413, "the body is over server.api.max_body (\(maxBody) bytes)"), for: head, close: true,
            context: context)
    }

    private func write(_ response: APIResponse, for head: HTTPRequestHead, close: Bool, context: ChannelHandlerContext)
    {
        let path = head.uri.split(separator: "?").first.map(String.init) ?? ""
        logger.info(
            "api request",
            metadata: ["method": "\(head.method.rawValue)", "path": "\(path)", "status": "\(response.status)"])
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: "\(response.json.utf8.count)")
        headers.add(name: "Cache-Control", value: "no-store")
        if close { headers.add(name: "Connection", value: "close") }
        let responseHead = HTTPResponseHead(
            version: head.version, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: response.json)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if close { done.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
    }
}

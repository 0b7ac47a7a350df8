import Logging
import NIOCore

/// A request to a body route being read: its head, its route and the body so far.
struct BodyRead {
    let head: HTTPRequestHead
    let route: WebSocketRouter.BodyRoute
    var body: [UInt8] = []
    var remaining: Int
}

/// Plain HTTP answers (health, metrics, pages, files, body routes) and keep-alive between them.
extension WebSocketConnectionHandler {
    /// Starts reading the body of a request to a body route: `Content-Length` bytes, at most the
    /// route's limit (413 over it, 411 for a chunked body; the connection closes after either).
    func readBody(_ head: HTTPRequestHead, _ route: WebSocketRouter.BodyRoute, context: ChannelHandlerContext) {
        if head.values("Transfer-Encoding").contains(where: { !$0.isEmpty }) {
            return respondPlain(
                head,
                PlainHTTPResponse(
                    status: 411, contentType: "text/plain; charset=utf-8",
                    text: "Send the body with a Content-Length, not chunked.\n"),
                forceClose: true, context: context)
        }
        // One length, digits only (RFC 9112 §6.3): anything else could frame the body two ways.
        let declared = Set(head.values("Content-Length").map { $0.trimmingHTTPWhitespace() })
        let digits = declared.first.map { !$0.isEmpty && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } } ?? true
        guard declared.count <= 1, digits, let length = declared.first.map({ Int($0) }) ?? 0 else {
            return respondPlain(
                head,
                PlainHTTPResponse(
                    status: 400, contentType: "text/plain; charset=utf-8",
                    text: "Content-Length must be one number of bytes.\n"),
                forceClose: true, context: context)
        }
        guard length <= route.maxBodySize else {
            return respondPlain(
                head,
                PlainHTTPResponse(
                    status: 413, contentType: "application/json",
                    text: #"{"error":"the body is over the limit of \#(route.maxBodySize) bytes"}"#),
                forceClose: true, context: context)
        }
        phase = .readingBody(BodyRead(head: head, route: route, remaining: length))
        // A body that stops coming is cut off like a request head that does.
        if configuration.handshakeTimeout > .zero {
            phaseTimer = context.eventLoop.assumeIsolated().scheduleTask(
                in: TimeAmount(configuration.handshakeTimeout)
            ) { [self] in
                guard case .readingBody = phase else { return }
                logger.debug("request body timed out")
                close(context: context)
            }
        }
    }

    /// Runs a body route's handler on a whole request and answers with what it returns.
    func answerBody(_ read: BodyRead, context: ChannelHandlerContext) {
        phaseTimer?.cancel()
        phaseTimer = nil
        phase = .responding
        let request = PlainHTTPRequest(
            method: read.head.method,
            path: read.head.path,
            query: read.head.query,
            headers: read.head.headers.map { (name: $0.name, value: $0.value) },
            body: read.body
        )
        let handler = read.route.handler
        let loop = context.eventLoop
        let connection = NIOLoopBound(self, eventLoop: loop)
        let boundContext = NIOLoopBound(context, eventLoop: loop)
        let head = read.head
        Task {
            let response = await handler(request)
            loop.execute {
                let handler = connection.value
                guard case .responding = handler.phase, boundContext.value.channel.isActive else { return }
                handler.respondPlain(head, response, bodyRead: true, context: boundContext.value)
            }
        }
    }

    /// Answers a plain HTTP route: `GET` and `HEAD` reach the handler, other methods get 405.
    func answerPlain(_ head: HTTPRequestHead, _ handler: PlainHTTPHandler, context: ChannelHandlerContext) {
        guard head.method == "GET" || head.method == "HEAD" else {
            refuse(
                .methodNotAllowed,
                .error(
                    405, "Method Not Allowed", "\(head.path) answers GET and HEAD only.",
                    headers: [HTTPHeaderField("Allow", "GET, HEAD")]),
                context: context
            )
            return
        }
        let request = PlainHTTPRequest(
            method: head.method,
            path: head.path,
            query: head.query,
            headers: head.headers.map { (name: $0.name, value: $0.value) }
        )
        respondPlain(head, handler(request), context: context)
    }

    /// Writes a plain response (a file body in chunks), then waits for the next request on the same
    /// connection or closes it, as ``HTTPKeepAlive`` decides. Nothing else is read meanwhile.
    func respondPlain(
        _ head: HTTPRequestHead, _ answer: PlainHTTPResponse, forceClose: Bool = false, bodyRead: Bool = false,
        context: ChannelHandlerContext
    ) {
        phase = .responding
        var decision = httpKeepAlive.decide(for: head, draining: core.draining, bodyRead: bodyRead)
        if configuration.keepAliveTimeout <= .zero || forceClose { decision = .close }
        var headers = [HTTPHeaderField("Content-Type", answer.contentType)]
        // A 304 has no body and names none: its length would be the 200's (RFC 9110 §8.6).
        if answer.status != 304 { headers.append(HTTPHeaderField("Content-Length", "\(answer.contentLength)")) }
        if let connection = HTTPKeepAlive.connectionHeader(decision, version: head.version) {
            headers.append(HTTPHeaderField("Connection", connection))
        }
        for (name, value) in answer.headers.sorted(by: { $0.key < $1.key }) {
            headers.append(HTTPHeaderField(name, value))
        }
        let response = HTTPResponse(
            status: answer.status, reason: HTTPResponse.reasonPhrase(for: answer.status), headers: headers)
        let sendsBody = head.method != "HEAD" && answer.status != 304
        var buffer = context.channel.allocator.buffer(capacity: 256 + (answer.file == nil ? answer.body.count : 0))
        response.write(into: &buffer)
        if sendsBody && answer.file == nil { buffer.writeBytes(answer.body) }
        let written = context.writeAndFlush(wrapOutboundOut(buffer))
        if sendsBody, let file = answer.file, file.length > 0 {
            sendFile(file, from: 0, decision: decision, context: context)
            return
        }
        written.assumeIsolated().whenComplete { [self] result in
            if case .failure = result { return close(context: context) }
            finishPlain(decision, context: context)
        }
    }

    /// Sends `file` from `offset` a chunk at a time: the next chunk is read once the last was written.
    private func sendFile(
        _ file: PlainHTTPFile, from offset: Int, decision: HTTPKeepAlive.Decision, context: ChannelHandlerContext
    ) {
        let count = min(FileChunkReader.chunkSize, file.length - offset)
        FileChunkReader.read(
            file, offset: offset, count: count, allocator: context.channel.allocator, eventLoop: context.eventLoop
        ).assumeIsolated().whenComplete { [self] result in
            guard case .responding = phase else { return }
            guard case .success(let chunk) = result, chunk.readableBytes == count else {
                // Fewer bytes than announced (the file shrank, or a read failed): the client can only
                // tell from a closed connection.
                logger.warning("file body ended early; closing the connection")
                return close(context: context)
            }
            context.writeAndFlush(wrapOutboundOut(chunk)).assumeIsolated().whenComplete { [self] result in
                guard case .success = result, case .responding = phase else { return close(context: context) }
                if offset + count < file.length {
                    sendFile(file, from: offset + count, decision: decision, context: context)
                } else {
                    finishPlain(decision, context: context)
                }
            }
        }
    }

    /// After a response: close, or read the next request (pipelined bytes first) within the keep-alive
    /// timeout.
    private func finishPlain(_ decision: HTTPKeepAlive.Decision, context: ChannelHandlerContext) {
        guard case .responding = phase else { return }
        guard decision == .keepOpen else { return close(context: context) }
        phase = .handshake(HTTPHeadParser(maxSize: configuration.maxRequestHeadSize))
        phaseTimer?.cancel()
        let limit = configuration.handshakeTimeout
        let idle = limit > .zero ? min(configuration.keepAliveTimeout, limit) : configuration.keepAliveTimeout
        phaseTimer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(idle)) { [self] in
            guard case .handshake = phase else { return }
            logger.debug("keep-alive connection idle; closing")
            close(context: context)
        }
        if flow.nextRequest() { context.read() }
        // Inside `process` (the write completed at once), its loop goes on with the next request.
        if !processing { process(context: context) }
    }

    func close(context: ChannelHandlerContext) {
        phase = .closed
        pending = nil
        context.close(promise: nil)
    }
}

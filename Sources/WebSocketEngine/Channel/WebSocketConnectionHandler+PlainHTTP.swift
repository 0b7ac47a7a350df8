import Logging
import NIOCore

/// Plain HTTP answers (health, metrics, pages, files) and keep-alive between them.
extension WebSocketConnectionHandler {
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
    func respondPlain(_ head: HTTPRequestHead, _ answer: PlainHTTPResponse, context: ChannelHandlerContext) {
        phase = .responding
        var decision = httpKeepAlive.decide(for: head, draining: core.draining)
        if configuration.keepAliveTimeout <= .zero { decision = .close }
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
        handshakeTimer?.cancel()
        let limit = configuration.handshakeTimeout
        let idle = limit > .zero ? min(configuration.keepAliveTimeout, limit) : configuration.keepAliveTimeout
        handshakeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(idle)) { [self] in
            guard case .handshake = phase else { return }
            logger.debug("keep-alive connection idle; closing")
            close(context: context)
        }
        if readPending {
            readPending = false
            context.read()
        }
        // Inside `process` (the write completed at once), its loop goes on with the next request.
        if !processing { process(context: context) }
    }

    private func close(context: ChannelHandlerContext) {
        phase = .closed
        pending = nil
        context.close(promise: nil)
    }
}

import CoreMetrics
import Logging
import NIOCore

/// The client side: the same connection handler, opened by ``ClientUpgradeHandler`` after the server's 101
/// instead of by a request head.
extension WebSocketConnectionHandler {
    /// What every client connection shares: no routes, no door limits, no metrics.
    static let clientCore = ServerCore(
        router: WebSocketRouter(),
        configuration: WebSocketServer.Configuration(handshakeTimeout: .zero),
        metrics: NOOPMetricsHandler.instance,
        logger: Logger(label: "wsgate.client")
    )

    /// A handler for a client connection: it gets no bytes until ``openAsClient(request:options:extensions:)``.
    static func client(logger: Logger) -> WebSocketConnectionHandler {
        let handler = WebSocketConnectionHandler(core: clientCore)
        // It stays in `.handshake`, which lets reads through (TLS needs them); ClientUpgradeHandler keeps
        // every byte until the 101 has been read.
        handler.ownLogger = Boxed(logger)
        return handler
    }

    /// Opens the session after the server's 101: client role (every frame masked, RFC 6455 §5.3), the
    /// negotiated extensions, keep-alive. Call on the event loop; nil when the channel has gone.
    func openAsClient(
        request: WebSocketRequest, options: WebSocketOptions, extensions: [any WebSocketExtension]
    ) -> WebSocketSession? {
        guard let context, case .handshake = phase else { return nil }
        var options = options
        options.masking = true
        let opened = enterOpen(
            SharedOptions(options), extensions: ExtensionPipeline(extensions), role: .client, context: context)
        return makeSession(request: request, opened: opened, context: context)
    }

    /// Bytes that came after the 101, then reading resumes.
    func clientOpened(leftover: ByteBuffer?) {
        guard let context else { return }
        if let leftover, leftover.readableBytes > 0 {
            pending = leftover
            drainFrames(context: context)
        }
        resumeReadIfPossible(context: context)
        if !flow.readPending { context.read() }
    }
}

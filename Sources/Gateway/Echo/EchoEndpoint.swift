import GatewayConfig
import WebSocketEngine

/// `type: echo`: greets, answers each message (through the `reply` template when set), and closes on `bye`.
///
/// With `greeting: "Please enter your name"`, `reply: "Hi, {message}!"` and `bye: bye` it holds the
/// conversation of Ktor's echo example word for word. Built only on the public session API.
struct EchoEndpoint: Sendable {
    let settings: EchoSettings

    /// Serves a session on its event loop: no task per session (an idle echo session costs only its
    /// connection). Reading pauses while the peer does not take its answers.
    func start(_ session: WebSocketSession) -> WebSocketLoopCallbacks {
        if let greeting = settings.greeting {
            _ = session.sendOnLoop(.text(greeting))
        }
        let plain = settings.reply == nil && settings.bye == nil
        let settings = self.settings
        return WebSocketLoopCallbacks(onMessage: { frame in
            // Binary messages, and everything when there is no template or bye, go back as received
            // (the same buffer: no String is built).
            guard !plain, let text = frame.readText() else {
                _ = session.sendOnLoop(frame)
                return
            }
            if let bye = settings.bye, bye.matches(text) {
                session.closeOnLoop(CloseReason(.normal, bye.reason))
            } else if let reply = settings.reply {
                _ = session.sendOnLoop(.text(reply.replacingOccurrences(of: "{message}", with: text)))
            } else {
                _ = session.sendOnLoop(frame)
            }
        })
    }
}

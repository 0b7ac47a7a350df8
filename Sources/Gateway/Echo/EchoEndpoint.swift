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
        if settings.reply == nil && settings.bye == nil {
            // Everything goes back as received (the same buffer: no String is built). The callback holds
            // only the session: no context is allocated for it.
            return WebSocketLoopCallbacks(onMessage: { [session] frame in _ = session.sendOnLoop(frame) })
        }
        let settings = self.settings
        return WebSocketLoopCallbacks(onMessage: { frame in
            // Binary messages go back as received.
            guard let text = frame.readText() else {
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

import GatewayConfig
import WebSocketEngine

/// `type: echo`: greets, answers each message (through the `reply` template when set), and closes on `bye`.
///
/// With `greeting: "Please enter your name"`, `reply: "Hi, {message}!"` and `bye: bye` it holds the
/// conversation of Ktor's echo example word for word. Built only on the public session API.
struct EchoEndpoint: Sendable {
    let settings: EchoSettings

    func handle(_ session: WebSocketSession) async throws {
        if let greeting = settings.greeting {
            try await session.send(greeting)
        }
        let plain = settings.reply == nil && settings.bye == nil
        for await frame in session.incoming {
            // Binary messages, and everything when there is no template or bye, go back as received
            // (the same buffer: no String is built).
            guard !plain, let text = frame.readText() else {
                try await session.send(frame)
                continue
            }
            if let bye = settings.bye, bye.matches(text) {
                await session.close(CloseReason(.normal, bye.reason))
                return
            }
            if let reply = settings.reply {
                try await session.send(reply.replacingOccurrences(of: "{message}", with: text))
            } else {
                try await session.send(frame)
            }
        }
    }
}

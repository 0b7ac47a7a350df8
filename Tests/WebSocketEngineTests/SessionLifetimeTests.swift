import NIOConcurrencyHelpers
import NIOCore
import Testing
import WebSocketTesting

@testable import WebSocketEngine

/// An extension that counts its live instances: a session's extension state must go with the session.
final class CountedExtension: WebSocketExtension {
    static let alive = NIOLockedValueBox(0)
    let response = WebSocketExtensionOffer(name: "x-counted")
    let reservedBits: UInt8 = 0

    init() { Self.alive.withLockedValue { $0 += 1 } }
    deinit { Self.alive.withLockedValue { $0 -= 1 } }

    func decode(_ message: ByteBuffer, reservedBits: UInt8, maxSize: Int) throws -> ByteBuffer { message }
    func encode(_ message: ByteBuffer, isText: Bool) throws -> (payload: ByteBuffer, reservedBits: UInt8) {
        (message, 0)
    }
}

struct CountedExtensionFactory: WebSocketExtensionFactory {
    var name: String { "x-counted" }
    func negotiate(offers: [WebSocketExtensionOffer]) -> (any WebSocketExtension)? {
        offers.contains { $0.name == name } ? CountedExtension() : nil
    }
}

@Suite(.serialized) struct SessionLifetimeTests {
    @Test func extensionState_isReleased_whenItsSessionsEnd() async throws {
        let options = WebSocketOptions(pingPeriod: .zero, extensions: [CountedExtensionFactory()])
        try await withTestServer(try echoRouter(options: options)) { server in
            try await churnEchoSessions(
                port: server.server.port, headers: [("Sec-WebSocket-Extensions", "x-counted")])
            var alive = CountedExtension.alive.withLockedValue { $0 }
            for _ in 0..<100 where alive > 0 {
                try await Task.sleep(for: .milliseconds(20))
                alive = CountedExtension.alive.withLockedValue { $0 }
            }
            #expect(alive == 0, "\(alive) sessions' extension state outlived their sessions")
        }
    }
}

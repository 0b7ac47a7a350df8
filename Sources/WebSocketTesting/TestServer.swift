import Logging
import NIOCore
import WebSocketEngine

/// A server started in-process on 127.0.0.1 and an ephemeral port, for tests.
public struct TestServer: Sendable {
    /// The running server.
    public let server: WebSocketServer
    /// Its port.
    public var port: Int { server.port }

    /// Opens a client connection to `path` on this server.
    public func connect(
        _ path: String,
        headers: [(String, String)] = [],
        autoPong: Bool = true
    ) async throws -> WebSocketTestClient {
        try await WebSocketTestClient.connect(port: port, path: path, headers: headers, autoPong: autoPong)
    }

    /// Holds a conversation with the endpoint at `path`: Ktor's `handleWebSocketConversation`.
    ///
    /// `incoming.receive()` returns the next frame from the server (close frames included);
    /// `outgoing.send(_:)` sends one. The connection is dropped when `body` returns.
    public func handleWebSocketConversation<Result: Sendable>(
        _ path: String,
        headers: [(String, String)] = [],
        _ body: (_ incoming: WebSocketTestClient, _ outgoing: WebSocketTestClient) async throws -> Result
    ) async throws -> Result {
        let client = try await connect(path, headers: headers)
        do {
            let result = try await body(client, client)
            await client.disconnect()
            return result
        } catch {
            await client.disconnect()
            throw error
        }
    }
}

/// Starts a server for `router` on 127.0.0.1:0, runs `body`, then shuts the server down.
public func withTestServer<Result: Sendable>(
    _ router: WebSocketRouter,
    configuration: WebSocketServer.Configuration = WebSocketServer.Configuration(),
    _ body: (TestServer) async throws -> Result
) async throws -> Result {
    var configuration = configuration
    configuration.host = "127.0.0.1"
    configuration.port = 0
    var logger = Logger(label: "wsgate-test")
    logger.logLevel = .warning
    let server = try await WebSocketServer.start(router: router, configuration: configuration, logger: logger)
    do {
        let result = try await body(TestServer(server: server))
        await server.shutdown(grace: .seconds(2))
        return result
    } catch {
        await server.shutdown(grace: .seconds(2))
        throw error
    }
}

import Logging
import NIOCore
import Testing
import WebSocketEngine
import WebSocketTesting

/// Starts a server on 127.0.0.1:0 whose lifetime the test controls (for drain tests).
private func startServer(_ router: WebSocketRouter) async throws -> WebSocketServer {
    var logger = Logger(label: "wsgate-test")
    logger.logLevel = .warning
    return try await WebSocketServer.start(
        router: router, configuration: .init(host: "127.0.0.1", port: 0), logger: logger)
}

private func upgradeRequest(_ path: String) -> String {
    "GET \(path) HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
}

@Suite struct PlainRoutesAndDrainTests {
    @Test func plainRoute_answersGetAndHead_andRefusesOtherMethods() async throws {
        var router = try echoRouter()
        try router.get("/status") { request in
            PlainHTTPResponse(
                contentType: "text/plain", text: "ok \(request.query)", headers: ["Cache-Control": "no-store"])
        }
        try await withTestServer(router) { server in
            let get = try await WebSocketTestClient.rawRequest(
                port: server.port, "GET /status?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(get.status == 200)
            #expect(get.body == "ok x=1")
            #expect(get.headers["content-type"] == "text/plain")
            #expect(get.headers["cache-control"] == "no-store")
            let head = try await WebSocketTestClient.rawRequest(
                port: server.port, "HEAD /status HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(head.status == 200)
            #expect(head.headers["content-length"] == "3")
            let post = try await WebSocketTestClient.rawRequest(
                port: server.port, "POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            #expect(post.status == 405)
            #expect(post.headers["allow"] == "GET, HEAD")
            // The WebSocket route beside it is untouched.
            try await expectEcho(try await server.connect("/echo"))
        }
    }

    @Test func aPath_isEitherPlainOrWebSocket() throws {
        var router = try echoRouter()
        #expect(throws: WebSocketRouter.RouteError.self) {
            try router.get("/echo") { _ in PlainHTTPResponse(contentType: "text/plain", text: "") }
        }
        try router.get("/health") { _ in PlainHTTPResponse(contentType: "text/plain", text: "") }
        #expect(throws: WebSocketRouter.RouteError.self) {
            try router.webSocket("/health") { _ in }
        }
        #expect(throws: WebSocketRouter.RouteError.self) {
            try router.get("health") { _ in PlainHTTPResponse(contentType: "text/plain", text: "") }
        }
        #expect(router.plainPaths == ["/health"])
    }

    @Test func drain_refusesNewSessionsWith503_keepsPlainRoutes_andClosesSessionsWith1001() async throws {
        var router = try echoRouter()
        try router.get("/health") { _ in PlainHTTPResponse(contentType: "text/plain", text: "up") }
        let server = try await startServer(router)
        var clients: [WebSocketTestClient] = []
        for _ in 0..<3 { clients.append(try await WebSocketTestClient.connect(port: server.port, path: "/echo")) }
        #expect(server.openSessions == 3)
        // Each close is timed as it arrives (waiting from before the drain, so a slow step below cannot
        // make them look simultaneous).
        let waiting = clients
        let arrivalTimes = Task {
            try await withThrowingTaskGroup(of: ContinuousClock.Instant.self) { group in
                for client in waiting {
                    group.addTask {
                        let reason = try await receiveClose(client, timeout: .seconds(15))
                        #expect(reason?.code == .goingAway)
                        return .now
                    }
                }
                return try await group.reduce(into: [ContinuousClock.Instant]()) { $0.append($1) }
            }
        }
        // The closes are spread over 3 s: the last session is still open for a while.
        let drain = Task { await server.drain(grace: .seconds(6), spread: .seconds(3)) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(server.isDraining)
        let refused = try await WebSocketTestClient.rawRequest(port: server.port, upgradeRequest("/echo"))
        #expect(refused.status == 503)
        #expect(refused.body.contains("shutting down"))
        let health = try await WebSocketTestClient.rawRequest(port: server.port, "GET /health HTTP/1.1\r\n\r\n")
        #expect(health.status == 200)
        let arrivals = try await arrivalTimes.value
        await drain.value
        #expect(server.openSessions == 0)
        // Spread: the closes did not all come at once (steps of 1 s; the bound leaves 1.4 s for a loaded machine).
        if let first = arrivals.min(), let last = arrivals.max() {
            #expect(last - first >= .milliseconds(600))
        }
        // The listener is closed once drained.
        await #expect(throws: (any Error).self) {
            _ = try await WebSocketTestClient.rawRequest(port: server.port, "GET /health HTTP/1.1\r\n\r\n")
        }
    }

    @Test func replaceRouter_appliesToNewHandshakes_whileOpenSessionsKeepTheirRoute() async throws {
        let server = try await startServer(try echoRouter())
        let old = try await WebSocketTestClient.connect(port: server.port, path: "/echo")
        var next = WebSocketRouter()
        try next.webSocket("/upper") { session in
            for await frame in session.incoming {
                try await session.send(.text(frame.readText()?.uppercased() ?? ""))
            }
        }
        server.replaceRouter(next)
        try await expectEcho(old)
        let upper = try await WebSocketTestClient.connect(port: server.port, path: "/upper")
        try await upper.send("hi")
        #expect(try await upper.receive().readText() == "HI")
        await #expect(throws: WebSocketTestClient.ClientError.self) {
            _ = try await WebSocketTestClient.connect(port: server.port, path: "/echo")
        }
        await server.shutdown(grace: .seconds(2))
    }
}

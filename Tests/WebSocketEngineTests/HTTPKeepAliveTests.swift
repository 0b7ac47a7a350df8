import NIOCore
import Testing
import WebSocketEngine
import WebSocketTesting

private func head(_ version: (Int, Int), _ headers: [(String, String)] = []) -> HTTPRequestHead {
    HTTPRequestHead(
        method: "GET", target: "/", version: (major: version.0, minor: version.1),
        headers: headers.map { HTTPHeaderField($0.0, $0.1) })
}

@Suite struct HTTPKeepAliveTests {
    @Test func http11_keepsOpen_unlessConnectionClose() {
        #expect(HTTPKeepAlive.requestAllowsKeepAlive(head((1, 1))))
        #expect(!HTTPKeepAlive.requestAllowsKeepAlive(head((1, 1), [("Connection", "close")])))
        #expect(!HTTPKeepAlive.requestAllowsKeepAlive(head((1, 1), [("connection", "Foo, CLOSE")])))
    }

    @Test func http10_closes_unlessKeepAliveAsked() {
        #expect(!HTTPKeepAlive.requestAllowsKeepAlive(head((1, 0))))
        #expect(HTTPKeepAlive.requestAllowsKeepAlive(head((1, 0), [("Connection", "Keep-Alive")])))
        #expect(HTTPKeepAlive.connectionHeader(.keepOpen, version: (major: 1, minor: 0)) == "keep-alive")
        #expect(HTTPKeepAlive.connectionHeader(.keepOpen, version: (major: 1, minor: 1)) == nil)
        #expect(HTTPKeepAlive.connectionHeader(.close, version: (major: 1, minor: 1)) == "close")
    }

    @Test func aRequestWithABody_closes_becauseTheBodyIsNeverRead() {
        #expect(!HTTPKeepAlive.requestAllowsKeepAlive(head((1, 1), [("Content-Length", "5")])))
        #expect(!HTTPKeepAlive.requestAllowsKeepAlive(head((1, 1), [("Transfer-Encoding", "chunked")])))
        #expect(HTTPKeepAlive.requestAllowsKeepAlive(head((1, 1), [("Content-Length", "0")])))
    }

    @Test func theLastAllowedRequest_andDraining_close() {
        var keepAlive = HTTPKeepAlive(maxRequests: 3)
        #expect(keepAlive.decide(for: head((1, 1)), draining: false) == .keepOpen)
        #expect(keepAlive.decide(for: head((1, 1)), draining: true) == .close)
        #expect(keepAlive.decide(for: head((1, 1)), draining: false) == .close)
        #expect(keepAlive.served == 3)
    }

    @Test func treeRoutes_matchTheirPrefixAndBelow_longestFirst() throws {
        var router = WebSocketRouter()
        try router.get(under: "/") { _ in PlainHTTPResponse(contentType: "text/plain", text: "root") }
        try router.get(under: "/static/") { _ in PlainHTTPResponse(contentType: "text/plain", text: "static") }
        func answer(_ path: String) -> String? {
            router.treeRoute(for: path).map { String(decoding: $0(request(path)).body, as: UTF8.self) }
        }
        #expect(answer("/static") == "static")
        #expect(answer("/static/a/b.css") == "static")
        #expect(answer("/statics") == "root")
        #expect(answer("/") == "root")
        #expect(router.treePaths == ["/", "/static"])
        #expect(throws: WebSocketRouter.RouteError.self) {
            try router.get(under: "/static") { _ in PlainHTTPResponse(contentType: "text/plain", text: "") }
        }
    }
}

private func request(_ path: String) -> PlainHTTPRequest {
    PlainHTTPRequest(method: "GET", path: path, query: "", headers: [])
}

/// A router with a plain route and an echo endpoint, for keep-alive over real sockets.
private func keepAliveRouter() throws -> WebSocketRouter {
    var router = try echoRouter()
    try router.get("/status") { request in
        PlainHTTPResponse(contentType: "text/plain", text: "ok \(request.query)")
    }
    return router
}

@Suite struct HTTPKeepAliveConnectionTests {
    @Test func twoRequestsOnOneConnection_thenConnectionCloseIsHonoured() async throws {
        try await withTestServer(try keepAliveRouter()) { server in
            let client = try await RawHTTPClient.connect(port: server.port)
            try await client.send("GET /status?n=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            let first = try await client.response()
            #expect(first.status == 200 && first.text == "ok n=1")
            #expect(first.headers["connection"] == nil)
            try await client.send("GET /status?n=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let second = try await client.response()
            #expect(second.text == "ok n=2")
            #expect(second.headers["connection"] == "close")
            #expect(try await client.closedByServer())
        }
    }

    @Test func pipelinedRequests_areAnsweredInOrder_andA404KeepsTheConnection() async throws {
        try await withTestServer(try keepAliveRouter()) { server in
            let client = try await RawHTTPClient.connect(port: server.port)
            try await client.send(
                "GET /status?n=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "HEAD /status?n=3 HTTP/1.1\r\nHost: x\r\n\r\nGET /status?n=4 HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.response().text == "ok n=1")
            #expect(try await client.response().status == 404)
            let head = try await client.response(head: true)
            #expect(head.status == 200 && head.headers["content-length"] == "6")
            #expect(try await client.response().text == "ok n=4")
            await client.close()
        }
    }

    @Test func fiftyPipelinedRequestsInOneWrite_comeBackInOrder() async throws {
        try await withTestServer(try keepAliveRouter()) { server in
            let client = try await RawHTTPClient.connect(port: server.port)
            try await client.send((0..<50).map { "GET /status?\($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined())
            for index in 0..<50 {
                #expect(try await client.response().text == "ok \(index)")
            }
            await client.close()
        }
    }

    @Test func http10_closesAfterTheResponse_unlessItAsksForKeepAlive() async throws {
        try await withTestServer(try keepAliveRouter()) { server in
            let plain = try await RawHTTPClient.connect(port: server.port)
            try await plain.send("GET /status HTTP/1.0\r\n\r\n")
            #expect(try await plain.response().headers["connection"] == "close")
            #expect(try await plain.closedByServer())

            let kept = try await RawHTTPClient.connect(port: server.port)
            try await kept.send("GET /status?a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try await kept.response().headers["connection"] == "keep-alive")
            try await kept.send("GET /status?b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try await kept.response().text == "ok b")
            await kept.close()
        }
    }

    @Test func anIdleKeptAliveConnection_isClosedAfterTheKeepAliveTimeout() async throws {
        let configuration = WebSocketServer.Configuration(keepAliveTimeout: .milliseconds(200))
        try await withTestServer(try keepAliveRouter(), configuration: configuration) { server in
            let client = try await RawHTTPClient.connect(port: server.port)
            try await client.send("GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.response().status == 200)
            #expect(try await client.closedByServer(within: .seconds(5)))
        }
    }

    @Test func anUpgradeAfterPlainRequests_onTheSameConnection_opensASession() async throws {
        try await withTestServer(try keepAliveRouter()) { server in
            let client = try await RawHTTPClient.connect(port: server.port)
            try await client.send("GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.response().status == 200)
            try await client.send(
                "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            let upgraded = try await client.response()
            #expect(upgraded.status == 101)
            #expect(upgraded.headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
            await client.close()
        }
    }

    @Test func aRequestWithABody_closesTheConnection_andTheLimitOfRequestsHolds() async throws {
        let configuration = WebSocketServer.Configuration(maxRequestsPerConnection: 2)
        try await withTestServer(try keepAliveRouter(), configuration: configuration) { server in
            let body = try await RawHTTPClient.connect(port: server.port)
            try await body.send("GET /status HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nGET ")
            #expect(try await body.response().headers["connection"] == "close")
            #expect(try await body.closedByServer())

            let limited = try await RawHTTPClient.connect(port: server.port)
            try await limited.send("GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await limited.response().headers["connection"] == nil)
            try await limited.send("GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await limited.response().headers["connection"] == "close")
            #expect(try await limited.closedByServer())
        }
    }
}

import Foundation
import Gateway
import GatewayConfig
import Logging
import Testing
import WebSocketEngine
import WebSocketTesting

/// A folder with a site and a secret beside it: `public/` is served, `outside/` must never be.
private struct Site {
    let root: URL
    var publicFolder: URL { root.appendingPathComponent("public") }
    let big: [UInt8]

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("wsgate-static-\(UUID().uuidString)")
        let manager = FileManager.default
        try manager.createDirectory(
            at: root.appendingPathComponent("public/css"), withIntermediateDirectories: true)
        try manager.createDirectory(at: root.appendingPathComponent("public/docs"), withIntermediateDirectories: true)
        try manager.createDirectory(at: root.appendingPathComponent("outside"), withIntermediateDirectories: true)
        try "<h1>hello</h1>\n".write(
            to: root.appendingPathComponent("public/index.html"), atomically: true, encoding: .utf8)
        try "body{}\n".write(to: root.appendingPathComponent("public/css/site.css"), atomically: true, encoding: .utf8)
        try "docs\n".write(to: root.appendingPathComponent("public/docs/index.html"), atomically: true, encoding: .utf8)
        try "secret\n".write(to: root.appendingPathComponent("outside/secret.txt"), atomically: true, encoding: .utf8)
        // Bigger than several chunks, and not a multiple of one.
        big = (0..<(300 * 1024 + 17)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Data(big).write(to: root.appendingPathComponent("public/big.bin"))
        try manager.createSymbolicLink(
            atPath: root.appendingPathComponent("public/leak.txt").path, withDestinationPath: "../outside/secret.txt")
        try manager.createSymbolicLink(
            atPath: root.appendingPathComponent("public/escape").path, withDestinationPath: "../outside")
        try manager.createSymbolicLink(
            atPath: root.appendingPathComponent("public/home.html").path, withDestinationPath: "index.html")
    }

    func remove() { try? FileManager.default.removeItem(at: root) }
}

private func startGateway(_ yaml: String, site: Site) async throws -> GatewayServer {
    var logger = Logger(label: "wsgate-test")
    logger.logLevel = .warning
    let loaded = try ConfigLoader.parse(yaml: yaml, file: "test.yaml", baseDirectory: site.root.path)
    return try await GatewayServer.start(
        loaded.configuration, listen: ListenAddress(host: "127.0.0.1", port: 0), logger: logger)
}

private func get(_ client: RawHTTPClient, _ path: String, _ headers: String = "") async throws -> RawHTTPClient.Response
{
    try await client.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\(headers)\r\n")
    return try await client.response()
}

@Suite struct StaticFilesTests {
    static let sharedPath = """
        version: 1
        endpoints:
          - { path: /, type: echo }
          - { path: /, type: static, directory: public }
        """

    @Test func files_indexAndContentTypes_areServed_andAnUpgradeOnTheSamePathReachesTheEchoEndpoint() async throws {
        let site = try Site()
        defer { site.remove() }
        let gateway = try await startGateway(Self.sharedPath, site: site)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let index = try await get(client, "/")
        #expect(index.status == 200 && index.text == "<h1>hello</h1>\n")
        #expect(index.headers["content-type"] == "text/html; charset=utf-8")
        let css = try await get(client, "/css/site.css")
        #expect(css.text == "body{}\n" && css.headers["content-type"] == "text/css; charset=utf-8")
        let big = try await get(client, "/big.bin")
        #expect(big.body == site.big && big.headers["content-type"] == "application/octet-stream")
        let moved = try await get(client, "/docs?x=1")
        #expect(moved.status == 301 && moved.headers["location"] == "/docs/?x=1")
        #expect(try await get(client, "/docs/").text == "docs\n")
        #expect(try await get(client, "/home.html").text == "<h1>hello</h1>\n")  // a link inside is fine
        #expect(try await get(client, "/missing.html").status == 404)
        #expect(try await get(client, "/index.html/").status == 404)
        try await client.send("HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        let head = try await client.response(head: true)
        #expect(head.status == 200 && head.headers["content-length"] == "\(site.big.count)")
        // Still the same connection, then a WebSocket on the static endpoint's path.
        #expect(try await get(client, "/css/site.css").status == 200)
        await client.close()
        let echo = try await WebSocketTestClient.connect(port: gateway.port, path: "/")
        try await echo.send(.text("still an echo"))
        #expect(try await echo.receive().readText() == "still an echo")
        await gateway.drain()
    }

    @Test func etagAndLastModified_answer304() async throws {
        let site = try Site()
        defer { site.remove() }
        let gateway = try await startGateway(Self.sharedPath, site: site)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let first = try await get(client, "/index.html")
        let tag = try #require(first.headers["etag"])
        let modified = try #require(first.headers["last-modified"])
        let cached = try await get(client, "/index.html", "If-None-Match: \(tag)\r\n")
        #expect(cached.status == 304 && cached.body.isEmpty && cached.headers["etag"] == tag)
        #expect(try await get(client, "/index.html", "If-None-Match: W/\(tag), \"other\"\r\n").status == 304)
        #expect(try await get(client, "/index.html", "If-None-Match: \"other\"\r\n").status == 200)
        #expect(try await get(client, "/index.html", "If-Modified-Since: \(modified)\r\n").status == 304)
        let old = "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
        #expect(try await get(client, "/index.html", old).status == 200)
        // If-None-Match decides when both are present.
        #expect(
            try await get(client, "/index.html", "If-None-Match: \"other\"\r\nIf-Modified-Since: \(modified)\r\n")
                .status == 200)
        await client.close()
        await gateway.drain()
    }

    @Test(arguments: [
        "/../outside/secret.txt", "/%2e%2e/outside/secret.txt", "/..%2foutside/secret.txt", "/leak.txt",
        "/escape/secret.txt", "/css/..%2f..%2foutside%2fsecret.txt", "/index.html%00.txt", "/.%2e/outside/secret.txt",
    ])
    func nothingOutsideTheDirectory_isEverServed(path: String) async throws {
        let site = try Site()
        defer { site.remove() }
        let gateway = try await startGateway(Self.sharedPath, site: site)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        let answer = try await get(client, path)
        #expect(answer.status == 404 || answer.status == 400)
        #expect(!answer.text.contains("secret"))
        await client.close()
        await gateway.drain()
    }

    @Test func aStaticEndpointUnderAPrefix_servesOnlyBelowIt() async throws {
        let site = try Site()
        defer { site.remove() }
        let gateway = try await startGateway(
            """
            version: 1
            endpoints:
              - { path: /echo, type: echo }
              - { path: /static, type: static, directory: public, index: null }
            """, site: site)
        let client = try await RawHTTPClient.connect(port: gateway.port)
        #expect(try await get(client, "/static/css/site.css").text == "body{}\n")
        #expect(try await get(client, "/static/").status == 404)  // index: null
        #expect(try await get(client, "/staticx/css/site.css").status == 404)
        #expect(try await get(client, "/css/site.css").status == 404)
        try await client.send("POST /static/css/site.css HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        #expect(try await client.response().status == 405)
        await client.close()
        await gateway.drain()
    }
}

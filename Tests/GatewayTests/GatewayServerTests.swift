import Gateway
import GatewayConfig
import Logging
import Prometheus
import Testing
import WebSocketEngine
import WebSocketTesting

private func configuration(_ yaml: String) throws -> GatewayConfiguration {
    try ConfigLoader.parse(yaml: yaml, file: "test.yaml", baseDirectory: ".").configuration
}

private func startGateway(_ yaml: String, metrics: PrometheusCollectorRegistry? = nil) async throws -> GatewayServer {
    var logger = Logger(label: "wsgate-test")
    logger.logLevel = .warning
    return try await GatewayServer.start(
        try configuration(yaml), listen: ListenAddress(host: "127.0.0.1", port: 0), logger: logger, metrics: metrics)
}

private func get(_ port: Int, _ path: String) async throws -> (status: Int, headers: [String: String], body: String) {
    try await WebSocketTestClient.rawRequest(port: port, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
}

/// The close frame a client receives next, skipping other frames.
private func nextClose(_ client: WebSocketTestClient) async throws -> CloseReason? {
    while true {
        if case .close(let reason) = try await client.receive() { return reason }
    }
}

@Suite struct GatewayServerTests {
    @Test func reload_addsChangesAndRemovesEndpoints() async throws {
        let gateway = try await startGateway(
            """
            version: 1
            endpoints:
              - { path: /echo, type: echo, reply: "old {message}" }
              - { path: /chat, type: broadcast }
              - { path: /gone, type: echo }
              - { path: /same, type: echo, reply: "same {message}" }
            """)
        let echo = try await WebSocketTestClient.connect(port: gateway.port, path: "/echo")
        let chat = try await WebSocketTestClient.connect(port: gateway.port, path: "/chat")
        #expect(try await chat.receive().readText() == "You've logged in as [user0]")
        let gone = try await WebSocketTestClient.connect(port: gateway.port, path: "/gone")
        let same = try await WebSocketTestClient.connect(port: gateway.port, path: "/same")

        let summary = try await gateway.reload(
            try configuration(
                """
                version: 1
                endpoints:
                  - { path: /echo, type: echo, reply: "new {message}" }
                  - { path: /chat, type: broadcast, format: "{name} says {message}" }
                  - { path: /same, type: echo, reply: "same {message}" }
                  - { path: /new, type: echo }
                """))
        #expect(summary.added == ["/new"])
        #expect(summary.changed == ["/echo", "/chat"])
        #expect(summary.removed == ["/gone"])
        #expect(summary.needsRestart.isEmpty)

        // Removed: its sessions go away with 1001.
        #expect(try await nextClose(gone) == CloseReason(.goingAway, "endpoint removed"))
        // Changed, with a shared room: closed so that everyone reconnects into the new room.
        #expect(try await nextClose(chat) == CloseReason(.goingAway, "endpoint reconfigured; reconnect"))
        // Changed, per connection: the open session keeps its settings, a new one gets the new ones.
        try await echo.send("a")
        #expect(try await echo.receive().readText() == "old a")
        let fresh = try await WebSocketTestClient.connect(port: gateway.port, path: "/echo")
        try await fresh.send("b")
        #expect(try await fresh.receive().readText() == "new b")
        // Unchanged: untouched.
        try await same.send("c")
        #expect(try await same.receive().readText() == "same c")
        // New, and gone.
        let added = try await WebSocketTestClient.connect(port: gateway.port, path: "/new")
        try await added.send("d")
        #expect(try await added.receive().readText() == "d")
        let refused = try await WebSocketTestClient.rawRequest(
            port: gateway.port,
            "GET /gone HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        #expect(refused.status == 404)
        let chatAgain = try await WebSocketTestClient.connect(port: gateway.port, path: "/chat")
        #expect(try await chatAgain.receive().readText() == "You've logged in as [user0]")
        try await chatAgain.send("hi")
        #expect(try await chatAgain.receive().readText() == "user0 says hi")
        await gateway.drain()
    }

    @Test func reloads_thatReuseEndpoints_retainNothing_andReplacedOnesGoWhenTheirSessionsEnd() async throws {
        let yaml = "version: 1\nendpoints:\n  - { path: /chat, type: broadcast }\n  - { path: /echo, type: echo }\n"
        let gateway = try await startGateway(yaml)
        // Sessions on reused endpoints stay open through every reload.
        let chat = try await WebSocketTestClient.connect(port: gateway.port, path: "/chat")
        #expect(try await chat.receive().readText() == "You've logged in as [user0]")
        let echo = try await WebSocketTestClient.connect(port: gateway.port, path: "/echo")
        for _ in 0..<20 {
            let summary = try await gateway.reload(try configuration(yaml))
            #expect(summary.changed.isEmpty && summary.added.isEmpty && summary.removed.isEmpty)
        }
        #expect(gateway.retiredEndpoints == 0)
        // A changed echo endpoint is retired while its session runs, and let go once that session ends.
        try await gateway.reload(
            try configuration(
                "version: 1\nendpoints:\n  - { path: /chat, type: broadcast }\n"
                    + "  - { path: /echo, type: echo, reply: \"new {message}\" }\n"))
        #expect(gateway.retiredEndpoints == 1)
        try await echo.send(.close(CloseReason(.normal)))
        _ = try await nextClose(echo)
        #expect(await echo.waitForDisconnect())
        var retired = gateway.retiredEndpoints
        for _ in 0..<200 where retired > 0 {
            try await Task.sleep(for: .milliseconds(10))
            retired = gateway.retiredEndpoints
        }
        #expect(retired == 0)
        try await chat.send("still here")
        #expect(try await chat.receive().readText() == "[user0]: still here")
        await gateway.drain()
    }

    @Test func reload_thatCannotBuild_keepsTheOldConfiguration() async throws {
        let gateway = try await startGateway("version: 1\nendpoints:\n  - { path: /echo, type: echo }\n")
        var broken = try configuration("version: 1\nendpoints:\n  - { path: /other, type: echo }\n")
        broken.endpoints[0].settings.extensions = [.custom(name: "x-not-registered", parameters: [:])]
        await #expect(throws: GatewayError.self) { try await gateway.reload(broken) }
        try await expectEchoes(gateway.port, "/echo")
        await gateway.drain()
    }

    @Test func health_isServingThenDraining() async throws {
        let gateway = try await startGateway(
            """
            version: 1
            server: { shutdown_grace: 3s, shutdown_spread: 2s }
            endpoints:
              - { path: /echo, type: echo }
            """)
        let healthy = try await get(gateway.port, "/healthz")
        #expect(healthy.status == 200)
        #expect(healthy.headers["content-type"] == "application/json")
        #expect(healthy.body.contains(#""status":"serving""#))
        // Two sessions so that the spread keeps the drain going for a while.
        let first = try await WebSocketTestClient.connect(port: gateway.port, path: "/echo")
        let second = try await WebSocketTestClient.connect(port: gateway.port, path: "/echo")
        let drain = Task { await gateway.drain() }
        try await Task.sleep(for: .milliseconds(200))
        let draining = try await get(gateway.port, "/healthz")
        #expect(draining.status == 503)
        #expect(draining.body.contains(#""status":"draining""#))
        #expect(try await nextClose(first)?.code == .goingAway)
        #expect(try await nextClose(second)?.code == .goingAway)
        await drain.value
    }

    @Test func metrics_countTrafficByEndpoint() async throws {
        let registry = PrometheusCollectorRegistry()
        let gateway = try await startGateway(
            "version: 1\nendpoints:\n  - { path: /echo, type: echo }\n", metrics: registry)
        let client = try await WebSocketTestClient.connect(port: gateway.port, path: "/echo")
        for text in ["one", "two", "three"] {
            try await client.send(text)
            #expect(try await client.receive().readText() == text)
        }
        try await client.send(.close(CloseReason(.normal)))
        _ = try await nextClose(client)
        #expect(await client.waitForDisconnect())
        _ = try? await get(gateway.port, "/nowhere")
        let scraped = try await get(gateway.port, "/metrics")
        #expect(scraped.status == 200)
        #expect(scraped.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let text = scraped.body
        #expect(text.contains(#"wsgate_messages_received_total{endpoint="/echo"} 3"#))
        #expect(text.contains(#"wsgate_messages_sent_total{endpoint="/echo"} 3"#))
        #expect(text.contains(#"wsgate_connections_total{endpoint="/echo"} 1"#))
        #expect(text.contains(#"wsgate_connections_open{endpoint="/echo"} 0"#))
        #expect(text.contains(#"wsgate_closes_total{endpoint="/echo",code="1000"} 1"#))
        #expect(text.contains(#"wsgate_handshakes_refused_total{reason="not_found"} 1"#))
        await gateway.drain()
    }

    @Test func closesMetric_bucketsApplicationCodes_soPeersCannotMintSeries() async throws {
        let registry = PrometheusCollectorRegistry()
        let gateway = try await startGateway(
            "version: 1\nendpoints:\n  - { path: /echo, type: echo }\n", metrics: registry)
        for raw: UInt16 in [3000, 3999, 4000, 4321, 4999, 1000] {
            let client = try await WebSocketTestClient.connect(port: gateway.port, path: "/echo")
            try await client.send(.close(CloseReason(CloseReason.Code(raw), "bye")))
            _ = try await nextClose(client)
            #expect(await client.waitForDisconnect())
        }
        let text = try await get(gateway.port, "/metrics").body
        let series = text.split(separator: "\n").filter { $0.hasPrefix("wsgate_closes_total{") }
        #expect(series.count == 3, "\(series)")
        #expect(text.contains(#"wsgate_closes_total{endpoint="/echo",code="3xxx"} 2"#))
        #expect(text.contains(#"wsgate_closes_total{endpoint="/echo",code="4xxx"} 3"#))
        #expect(text.contains(#"wsgate_closes_total{endpoint="/echo",code="1000"} 1"#))
        await gateway.drain()
    }
}

private func expectEchoes(_ port: Int, _ path: String) async throws {
    let client = try await WebSocketTestClient.connect(port: port, path: path)
    try await client.send("ping?")
    #expect(try await client.receive().readText() == "ping?")
}

import NIOCore
import Testing
import WebSocketEngine
import WebSocketTesting

@Suite struct ServerIntegrationTests {
    @Test func oversizedFrame_closesWith1009_andOtherSessionsContinue() async throws {
        let options = WebSocketOptions(pingPeriod: .zero, maxFrameSize: 1000, maxMessageSize: 4000)
        try await withTestServer(try echoRouter(options: options)) { server in
            let bystander = try await server.connect("/echo")
            let client = try await server.connect("/echo")
            try await client.sendFrame(opcode: 0x2, payload: Array(repeating: 7, count: 1001))
            #expect(try await receiveClose(client)?.code == .messageTooBig)
            #expect(await client.waitForDisconnect())
            try await expectEcho(bystander)
        }
    }

    @Test func oversizedMessage_inFragments_closesWith1009() async throws {
        let options = WebSocketOptions(pingPeriod: .zero, maxFrameSize: 1000, maxMessageSize: 2500)
        try await withTestServer(try echoRouter(options: options)) { server in
            let client = try await server.connect("/echo")
            try await client.sendFrame(opcode: 0x2, payload: Array(repeating: 1, count: 1000), fin: false)
            try await client.sendFrame(opcode: 0x0, payload: Array(repeating: 1, count: 1000), fin: false)
            try await client.sendFrame(opcode: 0x0, payload: Array(repeating: 1, count: 1000), fin: true)
            #expect(try await receiveClose(client)?.code == .messageTooBig)
            #expect(await client.waitForDisconnect())
        }
    }

    @Test func invalidUTF8_closesWith1007_andOtherSessionsContinue() async throws {
        try await withTestServer(try echoRouter()) { server in
            let bystander = try await server.connect("/echo")
            let client = try await server.connect("/echo")
            try await client.sendFrame(opcode: 0x1, payload: [0x48, 0x69, 0xC0, 0xAF])
            #expect(try await receiveClose(client)?.code == .invalidPayload)
            #expect(await client.waitForDisconnect())
            try await expectEcho(bystander)
        }
    }

    @Test func unmaskedFrame_closesWith1002() async throws {
        try await withTestServer(try echoRouter()) { server in
            let client = try await server.connect("/echo")
            try await client.sendFrame(opcode: 0x1, payload: Array("hi".utf8), masked: false)
            #expect(try await receiveClose(client)?.code == .protocolError)
            #expect(await client.waitForDisconnect())
        }
    }

    @Test func clientThatNeverAnswersPings_isClosedWith1011_whileAnAnsweringOneStays() async throws {
        // A timeout that a loaded machine's answering client meets (at 300 ms the whole suite in parallel
        // once delayed its pong past it, and at 1 s the suite beside a release build).
        let options = WebSocketOptions(pingPeriod: .milliseconds(100), timeout: .seconds(3))
        try await withTestServer(try echoRouter(options: options)) { server in
            let healthy = try await server.connect("/echo")
            let silent = try await server.connect("/echo", autoPong: false)
            #expect(try await silent.receive() == .ping(pingPayload(1)))
            let reason = try await receiveClose(silent)
            #expect(reason?.code == .internalError)
            #expect(reason?.message.contains("no pong") == true)
            #expect(await silent.waitForDisconnect())
            // The healthy client has been pinged several times by now and answered.
            try await expectEchoSkippingPings(healthy)
            #expect(healthy.isConnected)
        }
    }

    @Test func refusedHandshakes_getTheirHTTPStatus_andTheServerKeepsServing() async throws {
        let router = try echoRouter(allowedOrigins: ["https://good.example"])
        try await withTestServer(router) { server in
            await #expect(throws: WebSocketTestClient.ClientError.self) {
                _ = try await server.connect("/echo", headers: [("Origin", "https://evil.example")])
            }
            let statuses = try await [
                WebSocketTestClient.rawRequest(
                    port: server.port,
                    "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: https://evil.example\r\n\r\n"
                ).status,
                WebSocketTestClient.rawRequest(port: server.port, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n").status,
                WebSocketTestClient.rawRequest(port: server.port, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n").status,
                WebSocketTestClient.rawRequest(port: server.port, "BREW /echo HTCPCP/1.0\r\n\r\n").status,
            ]
            #expect(statuses == [403, 404, 426, 400])
            let good = try await server.connect("/echo", headers: [("Origin", "https://good.example")])
            try await expectEcho(good)
        }
    }

    @Test func serverClose_runsTheCloseHandshake_andReportsTheReason() async throws {
        var router = WebSocketRouter()
        let reasons = ReasonBox()
        try router.webSocket("/bye") { session in
            try await session.send("closing")
            await session.close(CloseReason(.normal, "done here"))
            await reasons.set(await session.closeReason)
        }
        try await withTestServer(router) { server in
            let client = try await server.connect("/bye")
            #expect(try await client.receive().readText() == "closing")
            #expect(try await receiveClose(client) == CloseReason(.normal, "done here"))
            #expect(await client.waitForDisconnect())
            try await Task.sleep(for: .milliseconds(100))
            #expect(await reasons.value == CloseReason(.normal, "done here"))
        }
    }

    @Test func peerClose_endsIncoming_andCloseReasonIsThePeers() async throws {
        var router = WebSocketRouter()
        let reasons = ReasonBox()
        try router.webSocket("/wait") { session in
            for await _ in session.incoming {}
            await reasons.set(await session.closeReason)
        }
        try await withTestServer(router) { server in
            let client = try await server.connect("/wait")
            try await client.send(.close(CloseReason(.goingAway, "tab closed")))
            #expect(try await receiveClose(client) == CloseReason(.goingAway, "tab closed"))
            #expect(await client.waitForDisconnect())
            try await Task.sleep(for: .milliseconds(100))
            #expect(await reasons.value == CloseReason(.goingAway, "tab closed"))
        }
    }

    @Test func pathParameters_andSubprotocol_reachTheHandler() async throws {
        var router = WebSocketRouter()
        try router.webSocket("/rooms/{room}", subprotocols: ["v2", "v1"]) { session in
            let room = session.request.pathParameters["room"] ?? "?"
            try await session.send(
                "\(room) \(session.request.subprotocol ?? "-") \(session.request.queryParameters["who"] ?? "-")")
        }
        try await withTestServer(router) { server in
            let client = try await server.connect(
                "/rooms/main%20hall?who=ann", headers: [("Sec-WebSocket-Protocol", "v1, v2")])
            #expect(client.responseHeaders["sec-websocket-protocol"] == "v2")
            #expect(try await client.receive().readText() == "main hall v2 ann")
        }
    }

    @Test func handlerThatDoesNotRead_stopsTheServerReadingItsSocket_untilItReads() async throws {
        let gate = AsyncGate()
        var router = WebSocketRouter()
        let options = WebSocketOptions(pingPeriod: .zero, maxFrameSize: 1 << 20, maxMessageSize: 1 << 20)
        try router.webSocket("/slow", options: options) { session in
            await gate.wait()
            var count = 0
            for await _ in session.incoming {
                count += 1
                if count == 200 { try await session.send("got 200") }
            }
        }
        try await withTestServer(router) { server in
            let client = try await server.connect("/slow")
            let payload = Array(repeating: UInt8(0x61), count: 256 * 1024)
            // 200 messages of 256 KiB = 50 MiB: far more than socket buffers and the 16-message
            // inbound queue hold, so the writes stall while the handler does not read.
            let sent = SendCounter()
            let sender = Task {
                for _ in 0..<200 {
                    try await client.sendFrame(opcode: 0x2, payload: payload)
                    await sent.increment()
                }
            }
            // Wait until the writes stop making progress.
            var previous = -1
            var current = await sent.value
            while current != previous && current < 200 {
                try await Task.sleep(for: .milliseconds(300))
                previous = current
                current = await sent.value
            }
            #expect(current < 200, "the client could write 50 MiB to a handler that does not read")
            await gate.open()
            try await sender.value
            #expect(await sent.value == 200)
            #expect(try await client.receive(timeout: .seconds(20)).readText() == "got 200")
        }
    }

    @Test func sessionsAreReleased_afterClientsGoAway() async throws {
        try await withTestServer(try echoRouter()) { server in
            try await churnEchoSessions(port: server.server.port)
            var open = server.server.openSessions
            for _ in 0..<50 where open > 0 {
                try await Task.sleep(for: .milliseconds(20))
                open = server.server.openSessions
            }
            #expect(open == 0)
        }
    }
}

func pingPayload(_ sequence: UInt64) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeInteger(sequence)
    return buffer
}

/// Sends a message and waits for its echo, ignoring pings in between.
func expectEchoSkippingPings(_ client: WebSocketTestClient, _ text: String = "alive") async throws {
    try await client.send(text)
    while true {
        let frame = try await client.receive()
        if case .ping = frame { continue }
        #expect(frame.readText() == text)
        return
    }
}

actor SendCounter {
    var value = 0
    func increment() { value += 1 }
}

actor ReasonBox {
    var value: CloseReason?
    func set(_ reason: CloseReason) { value = reason }
}

/// A one-shot gate tasks can wait on.
actor AsyncGate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func open() {
        isOpen = true
        for waiter in waiters { waiter.resume() }
        waiters.removeAll()
    }
}

import NIOCore
import NIOSSL
import Testing
import WebSocketClient
import WebSocketEngine

@Suite struct WebSocketClientAgainstWsgateTests {
    @Test func textBinaryAndOneMebibyte_echoBothWays_withDeflateNegotiatedAndMasking() async throws {
        try await withServer(try echoRouter()) { _, port in
            let session = try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(port)/echo", subprotocols: ["other", "chat"])
            #expect(session.request.subprotocol == "chat")
            var iterator = session.incoming.makeAsyncIterator()
            try await session.send("hello")
            #expect(await iterator.next() == .text("hello"))
            try await session.send(.binary(ByteBuffer(bytes: [0, 1, 2, 255])))
            #expect(await iterator.next() == .binary(ByteBuffer(bytes: [0, 1, 2, 255])))
            // 1 MiB of varied bytes: the server's state machine refuses unmasked client frames, so an echo
            // proves masking; deflate runs both ways (the server's endpoint has it).
            let big = ByteBuffer(bytes: (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) })
            try await session.send(.binary(big))
            #expect(await iterator.next() == .binary(big))
            await session.close()
            #expect(await session.closeReason.code == .normal)
        }
    }

    @Test func theOffer_andChosenHeaders_andQuery_reachTheServer() async throws {
        try await withServer(try echoRouter()) { _, port in
            let session = try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(port)/headers?room=a%20b",
                headers: [
                    (name: "X-Token", value: "t1"), (name: "Origin", value: "https://app"),
                    (name: "Host", value: "evil"),
                ])
            #expect(
                await nextText(session)
                    == "x-token=t1;sec-websocket-extensions=permessage-deflate; client_no_context_takeover; client_max_window_bits;origin=https://app;query=room=a%20b"
            )
            await session.close()
        }
    }

    @Test func closeCodes_passBothWays() async throws {
        try await withServer(try echoRouter()) { _, port in
            let closedByServer = try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/close")
            for await _ in closedByServer.incoming {}
            #expect(await closedByServer.closeReason == CloseReason(CloseReason.Code(4002), "bye"))

            let closing = try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/echo")
            await closing.close(CloseReason(CloseReason.Code(4003), "client done"))
            #expect(await closing.closeReason == CloseReason(CloseReason.Code(4003), "client done"))
        }
    }

    @Test func aMessageOverTheClientsLimit_closesWith1009() async throws {
        try await withServer(try echoRouter()) { _, port in
            let options = WebSocketClientOptions(
                webSocket: WebSocketOptions(pingPeriod: .zero, maxFrameSize: 1024, maxMessageSize: 1024))
            let session = try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/echo", options: options)
            // The client may send what it likes; the echo comes back over its own limit.
            try await session.send(.binary(ByteBuffer(repeating: 7, count: 4096)))
            for await _ in session.incoming {}
            #expect(await session.closeReason.code == .messageTooBig)
        }
    }

    @Test func aRefusedUpgrade_throwsTheStatus() async throws {
        try await withServer(try echoRouter()) { _, port in
            await #expect {
                _ = try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/nowhere")
            } throws: { error in
                guard case .refused(let status, _, _) = error as? WebSocketClientError else { return false }
                return status == 404
            }
        }
    }

    @Test func redirects_areRefusedByDefault_andFollowedOnlyWhenAsked() async throws {
        try await withServer(try echoRouter()) { _, port in
            await #expect {
                _ = try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/moved")
            } throws: { error in
                guard case .redirected(302, "/echo") = error as? WebSocketClientError else { return false }
                return true
            }
            let followed = try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(port)/moved", options: WebSocketClientOptions(maxRedirects: 1))
            #expect(followed.request.path == "/echo")
            try await followed.send("after redirect")
            #expect(await nextText(followed) == "after redirect")
            await followed.close()
            await #expect {
                _ = try await WebSocketClient.connect(
                    url: "ws://127.0.0.1:\(port)/loop", options: WebSocketClientOptions(maxRedirects: 3))
            } throws: { error in
                guard case .tooManyRedirects(3) = error as? WebSocketClientError else { return false }
                return true
            }
        }
    }

    @Test func aClosedPort_isUnreachable_andABadURLIsRefused() async throws {
        // A port bound and closed again: nothing listens there.
        let port = try await closedPort()
        await #expect {
            _ = try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/echo")
        } throws: { error in
            if case .unreachable = error as? WebSocketClientError { return true }
            return false
        }
        await #expect {
            _ = try await WebSocketClient.connect(url: "ftp://127.0.0.1/echo")
        } throws: { error in
            if case .invalidURL = error as? WebSocketClientError { return true }
            return false
        }
    }

    @Test func wss_verifiesTheCertificate_andEchoes() async throws {
        let certificate = try SelfSignedCertificate()
        defer { certificate.remove() }
        try await withServer(try echoRouter(), tls: try certificate.serverContext()) { _, port in
            // The system's roots do not know a self-signed certificate.
            await #expect(throws: WebSocketClientError.self) {
                _ = try await WebSocketClient.connect(url: "wss://localhost:\(port)/echo")
            }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(certificate.certificatePath))
            let session = try await WebSocketClient.connect(
                url: "wss://localhost:\(port)/echo", options: WebSocketClientOptions(tls: tls))
            try await session.send("over tls")
            #expect(await nextText(session) == "over tls")
            await session.close()
        }
    }
}

/// A port a server listened on and no longer does.
private func closedPort() async throws -> Int {
    var port = 0
    try await withServer(try echoRouter()) { _, listening in port = listening }
    return port
}

import NIOCore
import Testing
import WebSocketEngine

private let key = "dGhlIHNhbXBsZSBub25jZQ=="
private let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

private func answer(_ lines: [String]) -> ByteBuffer {
    ByteBuffer(string: lines.joined(separator: "\r\n") + "\r\n\r\n")
}

private let upgraded = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade"]

@Suite struct ClientHandshakeTests {
    let handshake = ClientHandshake(
        target: "/live?room=a", host: "example.com:8080", key: key, subprotocols: ["chat", "base"],
        extensionOffers: [WebSocketExtensionOffer(name: "permessage-deflate")],
        headers: [HTTPHeaderField("X-Token", "t"), HTTPHeaderField("Host", "evil"), HTTPHeaderField("Bad", "a\r\nb")])

    @Test func theRequest_hasTheRFCFields_theOffers_andOnlySafeExtraHeaders() {
        #expect(
            handshake.request
                == "GET /live?room=a HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, base\r\n"
                + "Sec-WebSocket-Extensions: permessage-deflate\r\nX-Token: t\r\n\r\n")
    }

    @Test func a101_withTheRightAccept_upgrades_andReportsTheChoices() throws {
        var buffer = answer(
            upgraded + [
                "Sec-WebSocket-Accept: \(accept)", "Sec-WebSocket-Protocol: base",
                "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover",
            ])
        buffer.writeString("extra")
        guard case .upgraded(let agreement) = try handshake.readResponse(from: &buffer) else {
            Issue.record("not upgraded")
            return
        }
        #expect(agreement.subprotocol == "base")
        #expect(agreement.extensions.map(\.description) == ["permessage-deflate; server_no_context_takeover"])
        #expect(String(buffer: buffer) == "extra")
    }

    @Test func anIncompleteHead_waits() throws {
        var buffer = ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n")
        #expect(try handshake.readResponse(from: &buffer) == nil)
    }

    @Test(arguments: [
        (["Sec-WebSocket-Accept: wrong"], "Sec-WebSocket-Accept"),
        (["Sec-WebSocket-Accept: \(accept)", "Sec-WebSocket-Protocol: other"], "not offered"),
        (["Sec-WebSocket-Accept: \(accept)", "Sec-WebSocket-Extensions: x-other"], "not offered"),
        (
            ["Sec-WebSocket-Accept: \(accept)", "Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate"],
            "not offered"
        ),
    ])
    func aWrong101_fails(extra: [String], problem: String) {
        var buffer = answer(upgraded + extra)
        #expect {
            _ = try handshake.readResponse(from: &buffer)
        } throws: { error in
            (error as? ClientHandshake.Failure)?.description.contains(problem) == true
        }
    }

    @Test func aRedirect_andARefusal_areReported() throws {
        var redirect = answer(["HTTP/1.1 302 Found", "Location: /elsewhere"])
        #expect(try handshake.readResponse(from: &redirect) == .redirect(status: 302, location: "/elsewhere"))
        var refused = answer(["HTTP/1.1 403 Forbidden", "Content-Length: 0"])
        guard case .refused(403, "Forbidden", _) = try handshake.readResponse(from: &refused) else {
            Issue.record("not refused")
            return
        }
    }

    @Test func anEndlessHead_failsAtItsLimit() {
        var buffer = ByteBuffer(string: "HTTP/1.1 101 OK\r\n" + String(repeating: "X: y\r\n", count: 4000))
        #expect(throws: ClientHandshake.Failure.self) { _ = try handshake.readResponse(from: &buffer) }
    }
}

/// A client's plain settings: it asks nothing of the server's context (the server-side default asks
/// to compress without context, which a client offer would then require).
private let plainClient = PerMessageDeflateConfiguration(serverNoContextTakeover: false)

@Suite struct PerMessageDeflateClientNegotiationTests {
    @Test func theOffer_carriesTheConfiguredParameters() {
        #expect(
            PerMessageDeflateClientNegotiation.offer(plainClient).description
                == "permessage-deflate; client_max_window_bits")
        let tight = PerMessageDeflateConfiguration(
            serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10,
            clientMaxWindowBits: 12)
        #expect(
            PerMessageDeflateClientNegotiation.offer(tight).description
                == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12"
        )
    }

    @Test func theServersAnswer_isMirroredForTheClient() throws {
        let response = try #require(
            ExtensionNegotiation.parseOffers([
                "permessage-deflate; client_no_context_takeover; server_max_window_bits=12"
            ])?
            .first)
        let agreement = try #require(
            PerMessageDeflateClientNegotiation.accept(response, configuration: plainClient))
        // Our compressor resets (the server asked the client to), the server's does not.
        #expect(agreement.serverNoContextTakeover)
        #expect(!agreement.clientNoContextTakeover)
        #expect(agreement.serverMaxWindowBits == 15)
    }

    @Test func theServer_mayLimitTheClientsWindow_toNineBitsOrMore() throws {
        for (answer, bits) in [("", 15), ("; client_max_window_bits=9", 9), ("; client_max_window_bits=15", 15)] {
            let response = try #require(ExtensionNegotiation.parseOffers(["permessage-deflate" + answer])?.first)
            #expect(
                PerMessageDeflateClientNegotiation.accept(response, configuration: plainClient)?.serverMaxWindowBits
                    == bits)
        }
        // A client configured for 11 bits keeps to them, whatever larger window the server allows.
        let response = try #require(
            ExtensionNegotiation.parseOffers(["permessage-deflate; client_max_window_bits=13"])?.first)
        var eleven = plainClient
        eleven.clientMaxWindowBits = 11
        #expect(PerMessageDeflateClientNegotiation.accept(response, configuration: eleven)?.serverMaxWindowBits == 11)
    }

    @Test(arguments: [
        "permessage-deflate; client_max_window_bits=8",  // zlib cannot keep to 256 bytes
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; x=1",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_no_context_takeover=1",
    ])
    func anUnusableAnswer_isRefused(text: String) throws {
        let response = try #require(ExtensionNegotiation.parseOffers([text])?.first)
        #expect(
            PerMessageDeflateClientNegotiation.accept(response, configuration: plainClient) == nil)
    }

    @Test func aRequiredServerReset_thatTheServerDeclines_isRefused() throws {
        let response = WebSocketExtensionOffer(name: "permessage-deflate")
        #expect(
            PerMessageDeflateClientNegotiation.accept(
                response, configuration: PerMessageDeflateConfiguration(serverNoContextTakeover: true)) == nil)
    }
}
